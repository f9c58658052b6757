/**
 * A tiny seeded PRNG (mulberry32) so the charts can jitter without `Math.random`:
 * the seed lives in the chart's context, which keeps snapshots serializable and
 * property tests reproducible. Quality is ample for spreading probes in time.
 */
export function nextRandom(seed: number): { readonly value: number; readonly seed: number } {
  const nextSeed = (seed + 0x6d2b79f5) | 0;
  let t = nextSeed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  const value = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  return { value, seed: nextSeed };
}
