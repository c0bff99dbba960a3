import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI_SOURCE, freePort, TSX_LOADER } from '../../test/support/process.js';

export interface ServiceProcess {
  url: string;
  port: number;
  child: ChildProcess;
  /** Everything the process wrote (pino lines and stderr). */
  output(): string;
  /** Resident memory of the process (and its workers), bytes. */
  rss(): number;
  /** Seconds from spawn until `/readyz` first answered 200, or null while it has not. */
  readyAfterMs: number | null;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Runs `serve` from source, production mode, with exactly this environment (plus PORT, HOST). */
export async function startService(env: Record<string, string>, options: { waitReady?: boolean; readyTimeoutMs?: number } = {}): Promise<ServiceProcess> {
  const port = await freePort();
  const cwd = mkdtempSync(join(tmpdir(), 'sts-chaos-'));
  const child = spawn(process.execPath, ['--import', TSX_LOADER, CLI_SOURCE, 'serve'], {
    cwd,
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const spawnedAt = performance.now();
  const service: ServiceProcess = {
    url: `http://127.0.0.1:${port}`,
    port,
    child,
    output: () => out,
    rss: () => processTreeRss(child.pid!),
    readyAfterMs: null,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  void (async () => {
    const deadline = performance.now() + 120_000;
    while (performance.now() < deadline && child.exitCode === null) {
      try {
        const res = await fetch(`${service.url}/readyz`);
        await res.arrayBuffer();
        if (res.status === 200) {
          service.readyAfterMs = performance.now() - spawnedAt;
          return;
        }
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  if (options.waitReady !== false) {
    const deadline = performance.now() + (options.readyTimeoutMs ?? 30_000);
    while (service.readyAfterMs === null) {
      if (performance.now() > deadline || child.exitCode !== null) throw new Error(`the service did not get ready:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return service;
}

/** VmRSS of a process and its children (cluster workers), from /proc. */
function processTreeRss(pid: number): number {
  let total = 0;
  const visit = (p: number) => {
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      total += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
      const children = readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim();
      for (const child of children === '' ? [] : children.split(/\s+/)) visit(Number(child));
    } catch {
      // gone
    }
  };
  visit(pid);
  return total;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
