import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { freePort } from '../../test/support/process.js';
import { sleep } from './service.js';

const run = promisify(execFile);

/** A redis-server of the scenario's own, which it may kill, restart and pause. */
export class ChaosRedis {
  #child: ChildProcess | null = null;

  private constructor(readonly port: number) {}

  static async start(): Promise<ChaosRedis> {
    const redis = new ChaosRedis(await freePort());
    await redis.restart();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Asynchronous, so the load generator in the same process never stalls on it. */
  async cli(...args: string[]): Promise<string> {
    try {
      const { stdout } = await run('redis-cli', ['-p', String(this.port), ...args], { encoding: 'utf8', timeout: 5000 });
      return stdout.trim();
    } catch {
      return '';
    }
  }

  async restart(): Promise<void> {
    this.#child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    for (let i = 0; i < 100 && (await this.cli('PING')) !== 'PONG'; i += 1) await sleep(50);
  }

  async kill(): Promise<void> {
    const child = this.#child;
    if (child === null || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** Stops the process without closing its sockets: every command hangs, as on a frozen host. */
  pause(): void {
    this.#child?.kill('SIGSTOP');
  }

  resume(): void {
    this.#child?.kill('SIGCONT');
  }
}
