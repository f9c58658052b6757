import type { StateValue } from 'xstate';

/** Flattens a (possibly parallel) state value into one dotted path per region, e.g. `active.connection.socket.open`. */
export function statePaths(value: StateValue, prefix = ''): string[] {
  if (typeof value === 'string') return [prefix ? `${prefix}.${value}` : value];
  const paths: string[] = [];
  for (const [key, child] of Object.entries(value)) {
    if (child === undefined) continue;
    paths.push(...statePaths(child as StateValue, prefix ? `${prefix}.${key}` : key));
  }
  return paths;
}

/** The leaf path of one region of a session chart (`connection` or `turn`), without the `active.` prefix. */
export function regionPath(value: StateValue, region: 'connection' | 'turn'): string {
  for (const path of statePaths(value)) {
    if (path.startsWith(`active.${region}.`)) return path.slice('active.'.length);
  }
  return typeof value === 'string' ? value : 'unknown';
}
