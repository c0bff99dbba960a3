import { readFileSync } from 'node:fs';

/** The parts of a V8 `.cpuprofile` this summary reads. */
interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }>;
  samples: number[];
  timeDeltas: number[];
  /** Monotonic clock, microseconds (CLOCK_MONOTONIC on Linux, as `process.hrtime`). */
  startTime: number;
}

export interface ProfileEntry {
  name: string;
  /** Share of all samples, 0–1. */
  share: number;
}

/** A named part of the request path, recognised by a frame on the stack. */
export interface ProfileStage {
  name: string;
  matches(frame: { functionName: string; url: string }): boolean;
  /** A catch-all (the framework, Node.js's HTTP code): used only when no specific stage is on the stack. */
  generic?: boolean;
}

export interface ProfileSummary {
  totalMs: number;
  /** Each sample charged to the innermost stage on its stack; the rest is "other". */
  stages: ProfileEntry[];
  /** Functions by time spent in the function itself. */
  self: ProfileEntry[];
  /** Functions by time spent in them and everything they called (recursion counted once). */
  inclusive: ProfileEntry[];
  /** Self time grouped by where the code lives. */
  byArea: ProfileEntry[];
}

function shortUrl(url: string): string {
  if (url === '') return '';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const src = url.search(/\/(src|bench)\//);
  if (src >= 0) return url.slice(src + 1);
  return url.replace(/^file:\/\//, '');
}

function label(frame: { functionName: string; url: string; lineNumber: number }): string {
  const fn = frame.functionName === '' ? '(anonymous)' : frame.functionName;
  const url = shortUrl(frame.url);
  return url === '' ? fn : `${fn} ${url}:${frame.lineNumber + 1}`;
}

/** Where a frame's code lives: the service's own modules, a package, Node.js internals, or V8. */
function area(frame: { functionName: string; url: string }): string {
  const url = frame.url;
  if (url === '') {
    if (frame.functionName === '(garbage collector)') return 'garbage collection';
    if (frame.functionName === '(idle)' || frame.functionName === '(program)') return frame.functionName;
    return 'native (crypto, JSON, builtins)';
  }
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const src = /\/src\/([^/]+)\//.exec(url);
  if (src !== null) return `src/${src[1]}`;
  if (url.startsWith('node:')) return 'node internals';
  return shortUrl(url);
}

function top(map: Map<string, number>, total: number, limit: number): ProfileEntry[] {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([name, us]) => ({ name, share: us / total }));
}

/** Self, inclusive and per-area time of a `.cpuprofile`, idle time excluded. */
/**
 * `fromMicros` (a `process.hrtime` reading in microseconds, from any process
 * on the machine) leaves out samples taken before it: start-up and warm-up.
 */
export function summarizeProfile(path: string, limit = 25, stageList: readonly ProfileStage[] = [], fromMicros = 0): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  const selfUs = new Map<number, number>();
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (at < fromMicros) continue;
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  }

  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const areas = new Map<string, number>();
  const stages = new Map<string, number>();
  let total = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    if (node.callFrame.functionName === '(idle)') continue;
    total += us;
    self.set(label(node.callFrame), (self.get(label(node.callFrame)) ?? 0) + us);
    const where = area(node.callFrame);
    areas.set(where, (areas.get(where) ?? 0) + us);
    const seen = new Set<string>();
    let stage: string | null = null;
    let generic: string | null = null;
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)!.callFrame;
      if (stage === null) stage = stageList.find((s) => s.generic !== true && s.matches(frame))?.name ?? null;
      if (generic === null) generic = stageList.find((s) => s.generic === true && s.matches(frame))?.name ?? null;
      const name = label(frame);
      if (seen.has(name)) continue;
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + us);
    }
    const charged = stage ?? generic ?? 'other';
    if (stageList.length > 0) stages.set(charged, (stages.get(charged) ?? 0) + us);
  }
  inclusive.delete('(root)');
  return {
    totalMs: total / 1000,
    stages: top(stages, total, stageList.length + 1),
    self: top(self, total, limit),
    inclusive: top(inclusive, total, limit),
    byArea: top(areas, total, limit),
  };
}

export function printProfile(summary: ProfileSummary, log: (line: string) => void, limit = 25): void {
  const pct = (share: number) => `${(share * 100).toFixed(1).padStart(5)}%`;
  log(`  busy time in profile: ${Math.round(summary.totalMs)} ms (idle excluded)`);
  if (summary.stages.length > 0) {
    log('  by request-path stage (innermost stage on the stack):');
    for (const e of summary.stages) log(`    ${pct(e.share)}  ${e.name}`);
  }
  log('  by area (self time):');
  for (const e of summary.byArea.slice(0, 12)) log(`    ${pct(e.share)}  ${e.name}`);
  log('  top functions, self time:');
  for (const e of summary.self.slice(0, limit)) log(`    ${pct(e.share)}  ${e.name}`);
  log('  top functions, inclusive time:');
  for (const e of summary.inclusive.slice(0, limit)) log(`    ${pct(e.share)}  ${e.name}`);
}
