import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/**
 * docs/fleet.md: "every wiring example handles the client's error event". An ioredis client
 * without an `error` listener prints "[ioredis] Unhandled error event" on every reconnect attempt
 * (46 lines per process in the outage audit of issue 13).
 */
const FILES = ['README.md', 'docs/stores.md', 'docs/fleet.md'];

function codeBlocks(text: string): string[] {
  return [...text.matchAll(/```(?:ts|js|typescript)\n([\s\S]*?)```/g)].map((match) => match[1]!);
}

describe('Redis wiring examples', () => {
  it.each(FILES)('%s: every code block that creates an ioredis client listens to its error event', (file) => {
    const text = readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');
    for (const block of codeBlocks(text).filter((code) => /new Redis\(/.test(code))) {
      expect(block, `${file}:\n${block}`).toMatch(/\.on\('error'/);
    }
  });
});
