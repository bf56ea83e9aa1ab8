/**
 * Reads a V8 CPU profile (`node --cpu-prof`) and tells where the time went:
 * self time per function, and inclusive time of the functions that matter
 * for a datagram's path. The bench runs it on the profiles `--profile`
 * writes; by hand: `node dist/test/bench/profile.js FILE.cpuprofile [TOP]`.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';

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

export interface ProfileRow {
  fn: string;
  ms: number;
  share: number;
}

export interface ProfileSummary {
  file: string;
  /** ms sampled, idle excluded */
  busyMs: number;
  idleMs: number;
  self: ProfileRow[];
  inclusive: ProfileRow[];
}

function label(cf: CallFrame): string {
  const name = cf.functionName || '(anonymous)';
  if (!cf.url) return name;
  const u = cf.url.replace(/^file:\/\//, '');
  const short = u.includes('/node_modules/') ? u.slice(u.indexOf('/node_modules/') + 14) : u.includes('/dist/') ? u.slice(u.indexOf('/dist/') + 6) : basename(u);
  return `${name} ${short}:${cf.lineNumber + 1}`;
}

/** `inclusiveOf`: function names whose inclusive time is reported (a name matches any file). */
export function summarise(file: string, top = 15, inclusiveOf: readonly string[] = []): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i + 1] ?? 0));
  }
  let idle = 0;
  let total = 0;
  const selfBy = new Map<string, number>();
  const inclBy = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    const l = label(n.callFrame);
    if (n.callFrame.functionName === '(idle)') {
      idle += us;
      continue;
    }
    total += us;
    selfBy.set(l, (selfBy.get(l) ?? 0) + us);
    // inclusive: every distinct named ancestor (recursion counted once)
    const seen = new Set<string>();
    for (let a: number | undefined = id; a !== undefined; a = parent.get(a)) {
      const cf = byId.get(a)!.callFrame;
      if (!inclusiveOf.includes(cf.functionName)) continue;
      const al = label(cf);
      if (seen.has(al)) continue;
      seen.add(al);
      inclBy.set(al, (inclBy.get(al) ?? 0) + us);
    }
  }
  const rows = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .map(([fn, us]) => ({ fn, ms: Math.round(us / 100) / 10, share: Math.round((us / Math.max(total, 1)) * 1000) / 10 }));
  return { file, busyMs: Math.round(total / 1000), idleMs: Math.round(idle / 1000), self: rows(selfBy).slice(0, top), inclusive: rows(inclBy) };
}

export function formatSummary(s: ProfileSummary): string {
  const out = [`${s.file}: ${s.busyMs} ms busy, ${s.idleMs} ms idle`, '  self time:'];
  for (const r of s.self) out.push(`    ${String(r.ms).padStart(8)} ms ${String(r.share).padStart(5)}%  ${r.fn}`);
  if (s.inclusive.length) {
    out.push('  inclusive time:');
    for (const r of s.inclusive) out.push(`    ${String(r.ms).padStart(8)} ms ${String(r.share).padStart(5)}%  ${r.fn}`);
  }
  return out.join('\n');
}

/** What the bench asks about a daemon profile. */
export const DAEMON_FUNCTIONS = [
  'handleDatagram',
  'decodeDatagram',
  'parseSyslogLine',
  'handle',
  'find',
  'firstMatch',
  'capture',
  'parseIp',
  'record',
  'apply',
  'write',
  'kill',
  'emit',
  'recv',
  'onDatagram',
];

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: profile.js FILE.cpuprofile [TOP]\n');
    process.exit(64);
  }
  process.stdout.write(formatSummary(summarise(file, Number(top ?? 25), DAEMON_FUNCTIONS)) + '\n');
}
