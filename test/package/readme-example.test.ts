import { readFile } from 'node:fs/promises';
import { describe, expect, test } from 'vitest';

/** The first ```ts block under a heading of README.md. */
export function readmeBlock(readme: string, heading: string): string {
  const start = readme.indexOf(`\n## ${heading}\n`);
  expect(start, `README.md has a "## ${heading}" section`).toBeGreaterThan(-1);
  const match = /```ts\n([\s\S]*?)```/.exec(readme.slice(start));
  expect(match, `the "${heading}" section has a ts block`).not.toBeNull();
  return match![1]!;
}

describe('the README cannot drift from the files CI runs', () => {
  test('"Embed it" is examples/embed.ts, byte for byte', async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const example = await readFile(new URL('../../examples/embed.ts', import.meta.url), 'utf8');
    expect(readmeBlock(readme, 'Embed it')).toBe(example);
  });

  test('the README opens with the two commands that work on a fresh clone', async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)![1]!;
    expect(firstBlock.split('\n')[0]).toMatch(/^npm ci && npm start\b/);
    expect(firstBlock.split('\n')[1]).toMatch(/^npm ci && npm test\b/);
  });
});
