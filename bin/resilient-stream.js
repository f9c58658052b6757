#!/usr/bin/env node
// The `resilient-stream` command. An installed package runs its compiled CLI (dist/, built by
// `prepack`); it never needs tsx or any other dev dependency. A development checkout (one with
// src/ and tsx installed) runs the TypeScript source instead, so `npm start` never runs a
// stale build.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'src', 'cli', 'main.ts');
const built = join(root, 'dist', 'src', 'cli', 'main.js');
process.env.RESILIENT_STREAM_CLI = '1';

function tsxInstalled() {
  try {
    createRequire(join(root, 'package.json')).resolve('tsx/esm/api');
    return true;
  } catch {
    return false;
  }
}

if (existsSync(source) && tsxInstalled()) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(source).href);
} else if (existsSync(built)) {
  await import(pathToFileURL(built).href);
} else {
  process.stderr.write('resilient-stream: error: the CLI is not built (dist/src/cli/main.js is missing); run `npm run build` in ' + root + '\n');
  process.exitCode = 1;
}
