/**
 * The offline inspector: `startInspector(manager)` serves a self-contained page on 127.0.0.1
 * that draws the charts from their definitions and shows sessions, endpoints, probe history
 * and a time-travelling timeline. See docs/inspector.md.
 */
export { startInspector, type Inspector, type InspectorOptions, type InspectableManager } from './server.js';
export { sanitizeInspectionEvent, sanitizeValue, sanitizeActorRef, scrubText, isSecretKey, REDACTED, type SanitizedActorRef } from './sanitize.js';
export type { ActorView, TimelineEntry, InspectedKind } from './model.js';
export type { ChartGeometry } from './chart.js';
