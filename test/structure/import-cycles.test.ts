import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** Relative imports of a file, type-only ones included: a cycle of types still ties two files together for a reader. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const match of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+['"](\.[^'"]+)['"]/g)) {
    found.push(resolve(dirname(file), match[1]!.replace(/\.js$/, '.ts')));
  }
  return found;
}

/** Every cycle found by a depth-first walk, each as a list of repository-relative paths. */
function cycles(files: string[]): string[][] {
  const graph = new Map(files.map((file) => [file, importsOf(file).filter((target) => files.includes(target))]));
  const found: string[][] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'visiting');
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 'visiting') found.push([...stack.slice(stack.indexOf(next)), next].map((f) => relative(root, f)));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of files) if (!state.has(file)) visit(file);
  return found;
}

describe('structure (issue 12: no import cycles)', () => {
  test('machines/ and src/ import each other without a cycle, type-only imports included', () => {
    const files = [...sourceFiles(join(root, 'machines')), ...sourceFiles(join(root, 'src'))];
    expect(files.length).toBeGreaterThan(50);
    expect(cycles(files)).toEqual([]);
  });

  test('machines/ imports nothing from src/', () => {
    for (const file of sourceFiles(join(root, 'machines'))) {
      for (const target of importsOf(file)) expect(relative(root, target), relative(root, file)).toMatch(/^machines\//);
    }
  });

  test('every chart file holds at most 300 lines', () => {
    const charts = ['endpoint.ts', 'credential.ts', 'session.ts', 'turn.ts'].map((name) => join(root, 'machines', name));
    for (const chart of charts) expect(readFileSync(chart, 'utf8').split('\n').length, relative(root, chart)).toBeLessThanOrEqual(300);
  });
});
