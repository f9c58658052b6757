import { existsSync } from 'node:fs';

/** Debian's chromium; the browser suite never downloads a browser. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Flags for a headless run that touches no network but loopback. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Whether the browser suite can run; when not, why and how to fix it. */
export function chromiumStatus(): { available: true } | { available: false; message: string } {
  if (existsSync(CHROMIUM_PATH)) return { available: true };
  return {
    available: false,
    message:
      `${CHROMIUM_PATH} not found: the inspector's browser tests need Debian's chromium ` +
      '(install it with `apt-get update && apt-get install -y chromium`; no browser is ever downloaded by npm).',
  };
}
