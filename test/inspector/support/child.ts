/**
 * Run as a child process by test/inspector/server.test.ts: starts a manager and an inspector,
 * opens a viewer socket, then (mode `close`) closes everything, or (mode `no-close`) closes
 * only the manager and the viewer. Either way the process must then exit on its own: the
 * parent fails the test if it does not within its deadline.
 */
import { WebSocket } from 'ws';
import { createSessionManager } from '../../../src/index.js';
import { startInspector } from '../../../src/inspector/index.js';

const mode = process.argv[2] ?? 'close';
const manager = createSessionManager({
  endpoints: { 'a/b/c': { wsUrl: 'ws://127.0.0.1:9/v1/responses', httpUrl: 'http://127.0.0.1:9/v1/responses', credentials: 'tok-child-123456' } },
});
const inspector = await startInspector(manager);
const viewer = new WebSocket(inspector.url.replace('http://', 'ws://').replace('/?', '/ws?'));
await new Promise<void>((resolve, reject) => {
  viewer.once('message', () => resolve());
  viewer.once('error', reject);
});
if (mode === 'close') {
  await inspector.close();
  await new Promise<void>((resolve) => (viewer.readyState === viewer.CLOSED ? resolve() : viewer.once('close', () => resolve())));
} else {
  viewer.close();
}
await manager.close();
process.stdout.write(`ready-to-exit ${mode}\n`);
