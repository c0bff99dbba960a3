import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);

/** Absolute URL of tsx's loader, so a child can run TypeScript from any working directory. */
export const TSX_LOADER = pathToFileURL(join(dirname(require.resolve('tsx/package.json')), 'dist', 'loader.mjs')).href;

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface ProcStatus {
  /** Resident set size now, bytes. */
  rss: number;
  /** Peak resident set size since the process started (VmHWM), bytes; summed over processes, the sum of each one's peak. */
  peakRss: number;
}

/** `/proc/<pid>/status` VmRSS and VmHWM; null where /proc is not available. */
export function procStatus(pid: number): ProcStatus | null {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string): number => {
      const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
      return match === null ? 0 : Number(match[1]) * 1024;
    };
    return { rss: kb('VmRSS'), peakRss: kb('VmHWM') };
  } catch {
    return null;
  }
}

const CLOCK_TICKS_PER_SECOND = 100;

/** `/proc/<pid>/stat`: the command name and the fields after it (the name may contain spaces); null without /proc. */
function readStat(pid: number): { command: string; fields: string[] } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = text.lastIndexOf(')');
    return { command: text.slice(text.indexOf('(') + 1, close), fields: text.slice(close + 2).split(' ') };
  } catch {
    return null;
  }
}

/** User + system CPU seconds the process has used (from /proc/<pid>/stat); null without /proc. */
export function procCpuSeconds(pid: number): number | null {
  const fields = readStat(pid)?.fields;
  return fields === undefined ? null : (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/**
 * `pid` and the processes below it that run the same command (node:cluster
 * workers are node processes forked by the primary), found by the parent pid
 * in each `/proc/<n>/stat`. Helpers of another command, such as the esbuild
 * service the TypeScript loader starts, are left out: a compiled deployment
 * has none. `[pid]` where /proc cannot be read.
 */
export function processTree(pid: number): number[] {
  const command = readStat(pid)?.command;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [pid];
  }
  if (command === undefined) return [pid];
  const children = new Map<number, number[]>();
  for (const entry of entries) {
    const child = Number(entry);
    if (!Number.isInteger(child) || child <= 0) continue;
    const stat = readStat(child);
    if (stat === null || stat.command !== command) continue;
    const parent = Number(stat.fields[1]);
    const list = children.get(parent);
    if (list === undefined) children.set(parent, [child]);
    else list.push(child);
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]!) ?? []));
  return tree;
}

/** CPU seconds of each process in `pids`; a process that is gone (or /proc missing) reads null. */
export function procCpuSecondsEach(pids: readonly number[]): Map<number, number | null> {
  return new Map(pids.map((pid) => [pid, procCpuSeconds(pid)]));
}

/** {@link procStatus} summed over `pid` and its descendants; `processes` counts them. */
export function procTreeStatus(pid: number): (ProcStatus & { processes: number }) | null {
  let total: (ProcStatus & { processes: number }) | null = null;
  for (const member of processTree(pid)) {
    const status = procStatus(member);
    if (status === null) continue;
    total ??= { rss: 0, peakRss: 0, processes: 0 };
    total.rss += status.rss;
    total.peakRss += status.peakRss;
    total.processes += 1;
  }
  return total;
}

export interface ServerProcess {
  name: string;
  url: string;
  pid: number;
  child: ChildProcess;
  /** Last lines of standard error, for failure reports. */
  stderrTail(): string;
  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. Resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

export interface SpawnServerOptions {
  name: string;
  /** TypeScript entry point, absolute. */
  script: string;
  args?: string[];
  env: Record<string, string>;
  cwd: string;
  port: number;
  /** Extra node flags (--cpu-prof …). */
  nodeFlags?: string[];
  /** File descriptor for standard output (the service's log destination); ignored when absent. */
  stdoutFd?: number;
}

/** Runs one server in its own Node.js process, TypeScript through tsx's loader. */
export function spawnServer(options: SpawnServerOptions): ServerProcess {
  const child = spawn(process.execPath, [...(options.nodeFlags ?? []), '--import', TSX_LOADER, options.script, ...(options.args ?? [])], {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', options.stdoutFd ?? 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-8000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  if (child.pid === undefined) throw new Error(`could not start ${options.name}`);
  return {
    name: options.name,
    url: `http://127.0.0.1:${options.port}`,
    pid: child.pid,
    child,
    stderrTail: () => stderr,
    async stop(graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/**
 * Waits until `probe` succeeds (the server answers a real token request with
 * 200), failing early if the process exits.
 */
export async function waitUntilReady(server: ServerProcess, probe: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (server.child.exitCode !== null || server.child.signalCode !== null) {
      throw new Error(`${server.name} exited (${server.child.exitCode ?? server.child.signalCode}) before it was ready:\n${server.stderrTail()}`);
    }
    try {
      if (await probe()) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${server.name} was not ready after ${timeoutMs} ms:\n${server.stderrTail()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Samples a process's RSS every `intervalMs`. */
export class RssSampler {
  readonly samples: Array<{ t: number; rss: number }> = [];
  private timer: NodeJS.Timeout | null = null;
  private started = 0;

  constructor(
    private readonly pid: number,
    private readonly intervalMs = 1000,
  ) {}

  start(): void {
    this.started = Date.now();
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.sample();
  }

  private sample(): void {
    const status = procStatus(this.pid);
    if (status !== null) this.samples.push({ t: (Date.now() - this.started) / 1000, rss: status.rss });
  }
}
