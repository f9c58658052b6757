/**
 * Small words of the configuration checks: how a wrong value is described in a
 * `ConfigError`, and which known option a misspelt key most likely meant.
 */

/** True for `{ … }` objects (not arrays, not null, not class instances such as a Map). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** A wrong value as a phrase for an error message; never the content of a long string (it may be a secret). */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return value.length <= 32 && !/\s/.test(value) ? `the string ${JSON.stringify(value)}` : `a string of ${value.length} characters`;
    case 'function':
      return `a function${value.name ? ` (${value.name})` : ''}`;
    case 'object': {
      const keys = Object.keys(value as object);
      return keys.length === 0 ? 'an empty object {}' : `an object with keys ${keys.slice(0, 6).join(', ')}${keys.length > 6 ? ', …' : ''}`;
    }
    case 'bigint':
      return `the bigint ${String(value)}n`;
    default:
      return String(value);
  }
}

/**
 * The known key `key` most likely meant, or `undefined`: the same key in another case
 * (`upgradeTimeoutMS` → `upgradeTimeoutMs`), else the closest by edit distance when that is at
 * most a third of the key's length (and at least 2).
 */
export function didYouMean(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  const sameCase = known.find((candidate) => candidate.toLowerCase() === lower);
  if (sameCase) return sameCase;
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.ceil(key.length / 3)) + 1;
  for (const candidate of known) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance; keys are short, so the quadratic table is nothing. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
