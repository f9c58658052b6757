/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): self time by function and by
 * file/package, so "where the time goes" can be read without DevTools.
 *
 *   node --import tsx bench/profile-summary.ts <file.cpuprofile> [--top 25] [--filter text]
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** One line of a summary: a function or a file, its self time and share of the sampled time. */
export interface ProfileLine {
  readonly name: string;
  readonly selfMs: number;
  readonly share: number;
}

/** Self time by function and by file/package of a profile, biggest first. */
export interface ProfileSummary {
  readonly totalMs: number;
  readonly functions: ProfileLine[];
  readonly files: ProfileLine[];
}

function shortUrl(url: string): string {
  if (url === '') return '(native)';
  const path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = path.slice(nm + '/node_modules/'.length).split('/');
    const pkg = rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1] ?? ''}` : (rest[0] ?? '');
    return `${pkg}:${rest[rest.length - 1] ?? ''}`;
  }
  const root = path.indexOf('/work/main/');
  return root >= 0 ? path.slice(root + '/work/main/'.length) : path.replace(/^node:/, 'node:');
}

/** Reads a `.cpuprofile` and adds up self time per function and per file. */
export function summarizeProfile(file: string, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) byId.set(node.id, node);
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const fn = new Map<string, number>();
  const files = new Map<string, number>();
  let total = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)' || functionName === '(program)') continue;
    total += us;
    const where = shortUrl(url);
    const key = `${functionName || '(anonymous)'} ${where}${url ? `:${lineNumber + 1}` : ''}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    const fileKey = functionName === '(garbage collector)' ? '(garbage collector)' : where;
    files.set(fileKey, (files.get(fileKey) ?? 0) + us);
  }
  const lines = (map: Map<string, number>): ProfileLine[] =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, selfMs: us / 1000, share: total === 0 ? 0 : us / total }));
  return { totalMs: total / 1000, functions: lines(fn), files: lines(files) };
}

/** Renders a summary as text. */
export function formatSummary(summary: ProfileSummary): string {
  const out = [`busy (non-idle) sampled time: ${summary.totalMs.toFixed(0)} ms`, '', 'self time by file / package:'];
  for (const line of summary.files) out.push(`  ${(line.share * 100).toFixed(1).padStart(5)} %  ${line.selfMs.toFixed(0).padStart(6)} ms  ${line.name}`);
  out.push('', 'self time by function:');
  for (const line of summary.functions) out.push(`  ${(line.share * 100).toFixed(1).padStart(5)} %  ${line.selfMs.toFixed(0).padStart(6)} ms  ${line.name}`);
  return out.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith('--'));
  if (!file) {
    console.error('usage: node --import tsx bench/profile-summary.ts <file.cpuprofile> [--top N]');
    process.exit(2);
  }
  const topIndex = args.indexOf('--top');
  const top = topIndex >= 0 ? Number(args[topIndex + 1]) : 25;
  console.log(formatSummary(summarizeProfile(file, top)));
}
