/**
 * The benchmark: `npm run bench` (everything), or any of
 *   npm run bench -- --micro     per-request work against the node:crypto floor
 *   npm run bench -- --load      HTTP: service (one process, and one worker per core) vs floor, crypto floor and typical, cold and warm
 *   npm run bench -- --memory    RSS of the service over a long run with many users
 *   npm run bench -- --profile   also CPU-profile the service during the load runs
 * Settings come from flags or the environment; `--help` lists them.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { MAX_RATE_LIMIT_PER_MINUTE } from '../src/config/index.js';
import { AUTHORIZED_PARTY, type BenchIssuer } from './lib/issuer.js';
import { mergeSamples, runLoad, type LoadResult, type LoadSample } from './lib/load.js';
import {
  freePort,
  procCpuSecondsEach,
  processTree,
  procStatus,
  procTreeStatus,
  RssSampler,
  spawnServer,
  waitUntilReady,
  type ServerProcess,
} from './lib/processes.js';
import { printProfile, summarizeProfile, type ProfileStage, type ProfileSummary } from './lib/profile.js';
import { fmt, fmtRatio, fmtRatioRange, mb, median, pairedRatioRange, ratio, slope, table } from './lib/stats.js';
import { sessionTokenPool } from './lib/tokens.js';
import { MICRO_TARGET, printMicro, runMicro, type MicroResult } from './micro.js';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = join(BENCH_DIR, '..');
const RESULTS_DIR = join(BENCH_DIR, 'results');
const SERVICE_ENTRY = join(ROOT, 'src', 'cli', 'main.ts');
const FLOOR_ENTRY = join(BENCH_DIR, 'servers', 'floor.ts');
const CRYPTO_FLOOR_ENTRY = join(BENCH_DIR, 'servers', 'crypto-floor.ts');
const TYPICAL_ENTRY = join(BENCH_DIR, 'peers', 'typical.ts');
const TOKEN_CACHE = join(tmpdir(), 'stream-token-service-bench', 'session-tokens.json');

const TARGETS = {
  /** requests/s against the crypto floor, cold and warm: what the service's production parts may cost. */
  vsCryptoFloor: 0.75,
  coldVsTypical: 10,
  micro: MICRO_TARGET,
  memoryGrowthMb: 50,
};

const HELP = `npm run bench [-- options]

Parts (default: all three):
  --micro              per-request work vs the node:crypto floor (bench/micro.ts)
  --load               HTTP load: service (one process, and one worker per core), constant-response floor,
                       crypto floor (the floor plus one RS256 check and one HMAC), typical implementation
  --memory             RSS of the service at load with many distinct users
Options (environment variable in brackets):
  --duration S         seconds per load run [BENCH_DURATION=10]
  --connections N      concurrent connections [BENCH_CONNECTIONS=50]
  --cold-users N       distinct users in the cold run [BENCH_COLD_USERS=20000]
  --warm-users N       distinct users in the warm run [BENCH_WARM_USERS=1000]
  --warmup S           seconds of warm-up per server before measuring [BENCH_WARMUP=2]
  --workers N          WEB_CONCURRENCY of the per-core service run [BENCH_WORKERS; default the CPU count, here
                       ${availableParallelism()}]; 1 leaves that server out
  --slices N           each server's run is cut into N slices taken in turn with the others' [BENCH_SLICES=5]
  --memory-duration S  seconds of the memory run [BENCH_MEMORY_DURATION=60]
  --memory-users N     distinct users in the memory run [BENCH_MEMORY_USERS=100000]
  --micro-rounds N     measured rounds of the micro-benchmark [BENCH_MICRO_ROUNDS=40]
  --log PATH           the service's log destination [BENCH_LOG; default a temporary file, removed after]
  --fresh-tokens       sign new session tokens instead of reusing the ones kept from an earlier run
                       [BENCH_FRESH_TOKENS=1]; they are kept in ${'$'}TMPDIR/stream-token-service-bench/
  --issuer-port N      port of the local issuer, part of the tokens' iss [BENCH_ISSUER_PORT=47419]
  --profile            run the service under --cpu-prof during the load runs and summarise where time goes
  -h, --help`;

interface Settings {
  micro: boolean;
  load: boolean;
  memory: boolean;
  profile: boolean;
  durationSeconds: number;
  connections: number;
  coldUsers: number;
  warmUsers: number;
  warmupSeconds: number;
  /** WEB_CONCURRENCY of the per-core service; below 2 it is not run. */
  workers: number;
  slices: number;
  memoryDurationSeconds: number;
  memoryUsers: number;
  microRounds: number;
  microTokens: number;
  log: string | null;
  freshTokens: boolean;
  issuerPort: number;
}

function readSettings(): Settings {
  const { values } = parseArgs({
    options: {
      micro: { type: 'boolean' },
      load: { type: 'boolean' },
      memory: { type: 'boolean' },
      profile: { type: 'boolean' },
      duration: { type: 'string' },
      connections: { type: 'string' },
      'cold-users': { type: 'string' },
      'warm-users': { type: 'string' },
      warmup: { type: 'string' },
      workers: { type: 'string' },
      slices: { type: 'string' },
      'memory-duration': { type: 'string' },
      'memory-users': { type: 'string' },
      'micro-rounds': { type: 'string' },
      log: { type: 'string' },
      'fresh-tokens': { type: 'boolean' },
      'issuer-port': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    console.log(HELP);
    process.exit(0);
  }
  const num = (flag: string | undefined, env: string, fallback: number, min: number): number => {
    const raw = flag ?? process.env[env];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min) throw new Error(`${env} (or its flag) must be a number ≥ ${min}, not "${raw}"`);
    return value;
  };
  const any = values.micro === true || values.load === true || values.memory === true;
  return {
    micro: !any || values.micro === true,
    load: !any || values.load === true,
    memory: !any || values.memory === true,
    profile: values.profile === true,
    durationSeconds: num(values.duration, 'BENCH_DURATION', 10, 1),
    connections: num(values.connections, 'BENCH_CONNECTIONS', 50, 1),
    coldUsers: num(values['cold-users'], 'BENCH_COLD_USERS', 20_000, 1),
    warmUsers: num(values['warm-users'], 'BENCH_WARM_USERS', 1_000, 1),
    warmupSeconds: num(values.warmup, 'BENCH_WARMUP', 2, 0),
    workers: Math.round(num(values.workers, 'BENCH_WORKERS', availableParallelism(), 1)),
    slices: Math.round(num(values.slices, 'BENCH_SLICES', 5, 1)),
    memoryDurationSeconds: num(values['memory-duration'], 'BENCH_MEMORY_DURATION', 60, 5),
    memoryUsers: num(values['memory-users'], 'BENCH_MEMORY_USERS', 100_000, 1),
    microRounds: num(values['micro-rounds'], 'BENCH_MICRO_ROUNDS', 40, 1),
    microTokens: num(undefined, 'BENCH_MICRO_TOKENS', 1_000, 10),
    log: values.log ?? process.env.BENCH_LOG ?? null,
    freshTokens: values['fresh-tokens'] === true || ['1', 'true', 'yes'].includes(process.env.BENCH_FRESH_TOKENS ?? ''),
    issuerPort: num(values['issuer-port'], 'BENCH_ISSUER_PORT', 47_419, 0),
  };
}

const log = (line = ''): void => console.log(line);
const section = (title: string): void => log(`\n== ${title} ${'='.repeat(Math.max(0, 70 - title.length))}`);

// ---------------------------------------------------------------------------------------------
// Servers

type ServerName = 'floor' | 'cryptoFloor' | 'service' | 'cluster' | 'typical';
let SERVER_LABELS: Record<ServerName, string> = serverLabels(2);

function serverLabels(workers: number): Record<ServerName, string> {
  return {
    floor: 'floor (Fastify, constant body)',
    cryptoFloor: 'crypto floor (floor + RS256 check + HMAC)',
    service: 'service (production config)',
    cluster: `service, WEB_CONCURRENCY=${workers} (one worker per core)`,
    typical: 'typical (Express+jwks-rsa+jsonwebtoken+createToken)',
  };
}

interface Harness {
  issuer: BenchIssuer;
  apiKey: string;
  apiSecret: string;
  /** Where the service process runs: an empty directory, so no .env is picked up. */
  workDir: string;
}

interface LogSink {
  path: string;
  fd: number;
  /** Removed after the run (a temporary file). */
  temporary: boolean;
  /** Size when opened: a file given with --log is appended to. */
  startBytes: number;
}

function openLogSink(settings: Settings, workDir: string, name: string): LogSink {
  const path = settings.log ?? join(workDir, `${name}.log`);
  const fd = openSync(path, 'a');
  let startBytes = 0;
  try {
    startBytes = statSync(path).isFile() ? statSync(path).size : 0;
  } catch {
    // not a regular file
  }
  return { path, fd, temporary: settings.log === null, startBytes };
}

/** Bytes and lines the service logged, read back from a file destination. */
function closeLogSink(sink: LogSink): void {
  try {
    closeSync(sink.fd);
  } catch {
    // already closed
  }
  if (sink.temporary) rmSync(sink.path, { force: true });
}

function logStats(sink: LogSink): { bytes: number; lines: number } | null {
  try {
    if (!statSync(sink.path).isFile()) return null;
    const bytes = statSync(sink.path).size - sink.startBytes;
    const fd = openSync(sink.path, 'r');
    const buffer = Buffer.allocUnsafe(1 << 20);
    let lines = 0;
    let position = sink.startBytes;
    for (let read = readSync(fd, buffer, 0, buffer.length, position); read > 0; read = readSync(fd, buffer, 0, buffer.length, position)) {
      position += read;
      for (let i = buffer.indexOf(10, 0); i >= 0 && i < read; i = buffer.indexOf(10, i + 1)) lines += 1;
    }
    closeSync(fd);
    return { bytes, lines };
  } catch {
    return null;
  }
}

function baseEnv(): Record<string, string> {
  const env: Record<string, string> = { TSX_TSCONFIG_PATH: join(ROOT, 'tsconfig.json') };
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ']) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

async function startServer(
  name: ServerName,
  harness: Harness,
  options: { logFd?: number; nodeFlags?: string[]; probeToken: string; workers?: number },
): Promise<ServerProcess> {
  const port = await freePort();
  const common = { ...baseEnv(), HOST: '127.0.0.1', PORT: String(port) };
  const workers = name === 'cluster' ? (options.workers ?? 2) : 1;
  let server: ServerProcess;
  if (name === 'service' || name === 'cluster') {
    server = spawnServer({
      name,
      script: SERVICE_ENTRY,
      args: ['serve'],
      cwd: harness.workDir,
      port,
      ...(options.nodeFlags !== undefined ? { nodeFlags: options.nodeFlags } : {}),
      ...(options.logFd !== undefined ? { stdoutFd: options.logFd } : {}),
      // Production configuration: the real loader reads these, as `npm start` would.
      env: {
        ...common,
        NODE_ENV: 'production',
        STREAM_API_KEY: harness.apiKey,
        STREAM_API_SECRET: harness.apiSecret,
        CLERK_JWT_ISSUER: harness.issuer.issuer,
        CLERK_AUTHORIZED_PARTIES: AUTHORIZED_PARTY,
        STREAM_SYNC_USERS: 'false',
        LOG_LEVEL: 'info',
        // node:cluster workers for the per-core run; in-memory state (rate limits) is then per worker.
        WEB_CONCURRENCY: String(workers),
        SHUTDOWN_DELAY_SECONDS: '0',
        SHUTDOWN_GRACE_SECONDS: '2',
        // Every request comes from 127.0.0.1; keep the limiters on the path but out of the way (a fast
        // machine serves more than a million a minute).
        RATE_LIMIT_PER_IP: String(MAX_RATE_LIMIT_PER_MINUTE),
        RATE_LIMIT_PER_USER: String(MAX_RATE_LIMIT_PER_MINUTE),
      },
    });
  } else {
    server = spawnServer({
      name,
      script: name === 'floor' ? FLOOR_ENTRY : name === 'cryptoFloor' ? CRYPTO_FLOOR_ENTRY : TYPICAL_ENTRY,
      cwd: ROOT,
      port,
      env: {
        ...common,
        NODE_ENV: 'production',
        STREAM_API_KEY: harness.apiKey,
        STREAM_API_SECRET: harness.apiSecret,
        CLERK_JWT_ISSUER: harness.issuer.issuer,
      },
    });
  }
  await waitUntilReady(server, async () => (await postToken(server.url, options.probeToken)).status === 200);
  if (workers > 1) {
    // A worker answered; wait for all of them to be forked (the warm-up then checks each one serves).
    await waitUntilReady(server, async () => processTree(server.pid).length > workers);
  }
  return server;
}

async function postToken(url: string, token: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${url}/stream/token`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: response.status, body };
}

/** The answer is a Stream token for the token's user, signed with the Stream secret. */
async function checkAnswer(server: ServerProcess, harness: Harness, token: string, userId: string): Promise<string> {
  const { status, body } = await postToken(server.url, token);
  if (status !== 200) throw new Error(`${server.name} answered ${status}: ${JSON.stringify(body)}`);
  if (server.name === 'floor') return 'constant body (no verification)';
  const answer = body as { token?: unknown; user_id?: unknown; api_key?: unknown; expires_in?: unknown };
  if (typeof answer.token !== 'string' || answer.user_id !== userId || answer.api_key !== harness.apiKey || typeof answer.expires_in !== 'number') {
    throw new Error(`${server.name} answered an unexpected body: ${JSON.stringify(body)}`);
  }
  const [h, p, s] = answer.token.split('.');
  const expected = createHmac('sha256', harness.apiSecret).update(`${h}.${p}`).digest('base64url');
  const claims = JSON.parse(Buffer.from(p ?? '', 'base64url').toString('utf8')) as { user_id?: string };
  if (s !== expected || claims.user_id !== userId) throw new Error(`${server.name} minted a Stream token that does not verify for ${userId}`);
  return `Stream token verifies with the secret, user_id=${userId}`;
}

// ---------------------------------------------------------------------------------------------
// Load

const has = (url: string, ...parts: string[]): boolean => parts.some((part) => url.includes(part));

/** Parts of the service's request path, for reading a CPU profile. */
const SERVICE_STAGES: ProfileStage[] = [
  { name: 'garbage collection', matches: (f) => f.functionName === '(garbage collector)' },
  { name: 'RSA signature check (crypto.verify)', matches: (f) => has(f.url, 'internal/crypto/sig') },
  { name: 'HMAC (createHmac, digest)', matches: (f) => has(f.url, 'internal/crypto/hash') },
  { name: 'request ids (randomUUID)', matches: (f) => f.functionName === 'randomUUID' },
  { name: 'session verification: parse, key, claims (src/identity)', matches: (f) => has(f.url, '/src/identity/') },
  {
    name: 'exchange: policy, removed check, mint (src/exchange, policy, state, stream)',
    matches: (f) => has(f.url, '/src/exchange/', '/src/policy/', '/src/state/sync-store', '/src/state/bounded-ttl-map', '/src/state/redis', '/src/stream/'),
  },
  {
    name: 'logging (pino, redaction, scrubbing, child loggers)',
    matches: (f) => has(f.url, '/pino/', '@pinojs', 'sonic-boom', '/src/http/logging', 'fastify/lib/logger'),
  },
  { name: 'security headers (@fastify/helmet)', matches: (f) => has(f.url, 'helmet') },
  {
    name: 'rate limiting (src/http/rate-limits, src/state/window-counters)',
    matches: (f) => has(f.url, '/src/http/rate-limits', '/src/state/window-counters'),
  },
  { name: 'CORS (@fastify/cors)', matches: (f) => has(f.url, '@fastify/cors') },
  { name: 'metrics (prom-client)', matches: (f) => has(f.url, 'prom-client', '/src/http/metrics') },
  { name: 'response serialisation (fast-json-stringify)', matches: (f) => has(f.url, 'fast-json-stringify') },
  {
    name: 'socket writes (write/writev syscalls; also time spent waiting for a CPU)',
    matches: (f) => ['writev', 'writeUtf8String', 'writeLatin1String', 'writeBuffer'].includes(f.functionName),
  },
  { name: "service's own hooks and routes (src/http)", generic: true, matches: (f) => has(f.url, '/src/http/') },
  { name: 'Fastify (routing, hooks, reply)', generic: true, matches: (f) => has(f.url, '/fastify/', 'find-my-way', 'avvio', 'light-my-request') },
  { name: 'Node.js HTTP, streams, timers', generic: true, matches: (f) => f.url.startsWith('node:') },
];

interface LoadPart {
  /** Peak RSS is VmHWM, summed over a cluster's primary and workers (`processes`). */
  servers: Partial<Record<ServerName, { peakRssMb: number | null; processes: number; exitCode: number | null }>>;
  /** WEB_CONCURRENCY of the `cluster` server; null when it was not run. */
  workers: number | null;
  cold: Partial<Record<ServerName, LoadResult>>;
  warm: Partial<Record<ServerName, LoadResult>>;
  ratios: {
    coldServiceToFloor: number;
    coldServiceToTypical: number;
    warmServiceToFloor: number;
    warmServiceToTypical: number;
    /** The crypto floor's own ratio to the floor: what the signature check and the mint alone leave of it. */
    coldCryptoFloorToFloor: number;
    warmCryptoFloorToFloor: number;
    /** What the service's production parts cost against the bare checks. */
    coldServiceToCryptoFloor: number;
    warmServiceToCryptoFloor: number;
    /** Server CPU per request, inverted: how the ratios would read if each server had a core to itself. */
    coldCpuFloorToService: number | null;
    coldCpuTypicalToService: number | null;
    /** The same for the one-worker-per-core service; null when it was not run. */
    coldClusterToFloor: number | null;
    coldClusterToTypical: number | null;
    warmClusterToFloor: number | null;
    warmClusterToTypical: number | null;
    coldClusterToCryptoFloor: number | null;
    warmClusterToCryptoFloor: number | null;
  };
  serviceLog: { destination: string; bytes: number; lines: number; bytesPerRequest: number } | null;
  profile: (ProfileSummary & { file: string }) | null;
}

/** A micro-benchmark ratio with the middle half of its per-round ratios beside it. */
function withQuartiles(micro: MicroResult, variant: string): string {
  const result = micro.variants.find((v) => v.name === variant);
  return result === undefined ? '–' : `${fmtRatio(result.ratioToFloor)} (rounds ${fmtRatioRange(result.ratioQuartiles)})`;
}

/** `other`'s CPU per request over the service's: >1 means the service needs less CPU per request. */
function cpuRatio(other: LoadResult, service: LoadResult): number | null {
  const a = other.serverCpuMicrosPerRequest;
  const b = service.serverCpuMicrosPerRequest;
  return a === null || b === null || b === 0 ? null : a / b;
}

function printLoadTable(title: string, results: Partial<Record<ServerName, LoadResult>>): void {
  const rows = [
    [title, 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'non-2xx', 'errors', 'server CPU µs/req', 'server CPU', 'loadgen CPU'],
    ...(Object.keys(results) as ServerName[]).map((name) => {
      const r = results[name]!;
      return [
        SERVER_LABELS[name],
        fmt(r.requestsPerSecond, 0),
        fmt(r.latencyMs.p50, 2),
        fmt(r.latencyMs.p90, 2),
        fmt(r.latencyMs.p99, 2),
        String(r.non2xx),
        String(r.errors + r.timeouts),
        fmt(r.serverCpuMicrosPerRequest, 0),
        r.serverCpuShare === null ? '–' : `${Math.round(r.serverCpuShare * 100)}%`,
        `${Math.round(r.loadGeneratorCpuShare * 100)}%`,
      ];
    }),
  ];
  log(table(rows));
  for (const name of Object.keys(results) as ServerName[]) {
    const codes = Object.entries(results[name]!.statusCodes).filter(([code]) => !code.startsWith('2'));
    if (codes.length > 0) log(`  ${name}: non-2xx status codes ${codes.map(([c, n]) => `${c}×${n}`).join(', ')}`);
  }
  const cluster = results.cluster;
  if (cluster?.serverCpuShareByProcess != null) {
    const [primary, ...workers] = cluster.serverCpuShareByProcess;
    log(
      `  ${SERVER_LABELS.cluster}: server CPU is the sum over its ${cluster.serverProcesses} processes ` +
        `(primary ${Math.round((primary ?? 0) * 100)}%, workers ${workers.map((w) => `${Math.round(w * 100)}%`).join(' / ')} of a core)`,
    );
  }
}

/** CPU seconds each worker of a cluster used during `run`; the primary (first in the tree) is left out. */
async function workerCpuDuring(pid: number, run: () => Promise<unknown>): Promise<number[]> {
  const workers = processTree(pid).slice(1);
  const before = procCpuSecondsEach(workers);
  await run();
  const after = procCpuSecondsEach(workers);
  return workers.map((w) => (after.get(w) ?? 0) - (before.get(w) ?? 0));
}

async function runLoadPart(settings: Settings, harness: Harness, cold: string[], warm: string[], warmUserIds: string[]): Promise<LoadPart> {
  section('HTTP load');
  log(
    `${settings.connections} connections, pipelining 1, ${settings.durationSeconds} s per server and run; cold: ${cold.length.toLocaleString('en-US')} distinct users, ` +
      `warm: ${warm.length.toLocaleString('en-US')} users; each server in its own process, load generator in this one`,
  );
  if (settings.profile) log('the service runs under --cpu-prof, which slows it: compare its figures from a run without --profile');
  const logSink = openLogSink(settings, harness.workDir, 'service-load');
  const withCluster = settings.workers >= 2;
  const clusterLogSink = withCluster ? openLogSink(settings, harness.workDir, 'service-cluster-load') : null;
  const profileDir = settings.profile ? mkdtempSync(join(tmpdir(), 'stream-token-service-profile-')) : null;
  const names: ServerName[] = withCluster ? ['floor', 'cryptoFloor', 'service', 'cluster', 'typical'] : ['floor', 'cryptoFloor', 'service', 'typical'];
  const servers: Partial<Record<ServerName, ServerProcess>> = {};
  const server = (name: ServerName): ServerProcess => servers[name]!;
  try {
    for (const name of names) {
      servers[name] = await startServer(name, harness, {
        probeToken: warm[0]!,
        ...(name === 'service' ? { logFd: logSink.fd } : {}),
        ...(name === 'cluster' ? { logFd: clusterLogSink!.fd, workers: settings.workers } : {}),
        ...(name === 'service' && profileDir !== null ? { nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] } : {}),
      });
      const pids = name === 'cluster' ? `pids ${processTree(server(name).pid).join(', ')}` : `pid ${server(name).pid}`;
      log(`  ${SERVER_LABELS[name].padEnd(52)} ${pids}: ${await checkAnswer(server(name), harness, warm[0]!, warmUserIds[0]!)}`);
    }
    if (settings.warmupSeconds > 0) {
      log(`warming up each server for ${settings.warmupSeconds} s with the warm users…`);
      for (const name of names) {
        const warmUp = () => runLoad({ url: server(name).url, tokens: warm, durationSeconds: settings.warmupSeconds, connections: settings.connections });
        if (name !== 'cluster') {
          await warmUp();
          continue;
        }
        // Connections go to the workers listening when they open: warm up again until every worker served.
        for (let attempt = 1; ; attempt++) {
          const used = await workerCpuDuring(server(name).pid, warmUp);
          if (used.length === settings.workers && Math.min(...used) >= 0.25 * Math.max(...used)) break;
          if (attempt === 5) {
            throw new Error(
              `${SERVER_LABELS.cluster}: its workers did not all take load during the warm-up (CPU s: ${used.map((u) => u.toFixed(2)).join(', ')})`,
            );
          }
        }
      }
    }
    // Each server's run is cut into slices taken in turn (floor, service, …, then the next slice in a
    // rotated order), so a burst of other work on the machine lands on all of them alike.
    const sliceSeconds = settings.durationSeconds / settings.slices;
    const measure = async (label: string, tokens: string[]): Promise<Partial<Record<ServerName, LoadResult>>> => {
      const samples = new Map<ServerName, LoadSample[]>(names.map((name) => [name, []]));
      const sent = new Map<ServerName, number>(names.map((name) => [name, 0]));
      process.stdout.write(`  ${label}: ${settings.slices} × ${fmt(sliceSeconds, 1)} s per server `);
      for (let slice = 0; slice < settings.slices; slice++) {
        for (let k = 0; k < names.length; k++) {
          const name = names[(k + slice) % names.length]!;
          const sample = await runLoad({
            url: server(name).url,
            tokens,
            offset: sent.get(name)!,
            durationSeconds: sliceSeconds,
            connections: settings.connections,
            serverPid: server(name).pid,
          });
          sent.set(name, sent.get(name)! + sample.requests);
          samples.get(name)!.push(sample);
        }
        process.stdout.write('.');
      }
      log('');
      return Object.fromEntries(names.map((name) => [name, mergeSamples(samples.get(name)!)]));
    };
    const measuredFrom = Number(process.hrtime.bigint() / 1000n);
    const coldResults = await measure(`cold run (${cold.length.toLocaleString('en-US')} users)`, cold);
    const warmResults = await measure(`warm run (${warm.length.toLocaleString('en-US')} users)`, warm);
    const coldOf = (name: ServerName): LoadResult => coldResults[name]!;
    const warmOf = (name: ServerName): LoadResult => warmResults[name]!;

    const serverInfo: LoadPart['servers'] = {};
    for (const name of names) {
      const status = procTreeStatus(server(name).pid);
      serverInfo[name] = { peakRssMb: status === null ? null : mb(status.peakRss), processes: status?.processes ?? 1, exitCode: null };
    }
    for (const name of names) serverInfo[name]!.exitCode = await server(name).stop();

    log('');
    printLoadTable(`cold (${cold.length.toLocaleString('en-US')} users)`, coldResults);
    log('');
    printLoadTable(`warm (${warm.length.toLocaleString('en-US')} users)`, warmResults);
    log('');
    log(
      table([
        ['peak RSS (VmHWM; a cluster: sum over its processes)', 'MB', 'processes'],
        ...names.map((n) => [SERVER_LABELS[n], fmt(serverInfo[n]!.peakRssMb, 1), String(serverInfo[n]!.processes)]),
      ]),
    );

    const clusterRatio = (results: (name: ServerName) => LoadResult, other: ServerName): number | null =>
      withCluster ? ratio(results('cluster').requestsPerSecond, results(other).requestsPerSecond) : null;
    const ratios: LoadPart['ratios'] = {
      coldServiceToFloor: ratio(coldOf('service').requestsPerSecond, coldOf('floor').requestsPerSecond),
      coldServiceToTypical: ratio(coldOf('service').requestsPerSecond, coldOf('typical').requestsPerSecond),
      warmServiceToFloor: ratio(warmOf('service').requestsPerSecond, warmOf('floor').requestsPerSecond),
      warmServiceToTypical: ratio(warmOf('service').requestsPerSecond, warmOf('typical').requestsPerSecond),
      coldCryptoFloorToFloor: ratio(coldOf('cryptoFloor').requestsPerSecond, coldOf('floor').requestsPerSecond),
      warmCryptoFloorToFloor: ratio(warmOf('cryptoFloor').requestsPerSecond, warmOf('floor').requestsPerSecond),
      coldServiceToCryptoFloor: ratio(coldOf('service').requestsPerSecond, coldOf('cryptoFloor').requestsPerSecond),
      warmServiceToCryptoFloor: ratio(warmOf('service').requestsPerSecond, warmOf('cryptoFloor').requestsPerSecond),
      coldCpuFloorToService: cpuRatio(coldOf('floor'), coldOf('service')),
      coldCpuTypicalToService: cpuRatio(coldOf('typical'), coldOf('service')),
      coldClusterToFloor: clusterRatio(coldOf, 'floor'),
      coldClusterToTypical: clusterRatio(coldOf, 'typical'),
      warmClusterToFloor: clusterRatio(warmOf, 'floor'),
      warmClusterToTypical: clusterRatio(warmOf, 'typical'),
      coldClusterToCryptoFloor: clusterRatio(coldOf, 'cryptoFloor'),
      warmClusterToCryptoFloor: clusterRatio(warmOf, 'cryptoFloor'),
    };
    log('');
    log('req/s ratios, single-process service:');
    log(`  cold: service/floor ${fmtRatio(ratios.coldServiceToFloor)}, service/typical ${fmtRatio(ratios.coldServiceToTypical)}`);
    log(`  warm: service/floor ${fmtRatio(ratios.warmServiceToFloor)}, service/typical ${fmtRatio(ratios.warmServiceToTypical)}`);
    log(
      `  the crypto floor (no claim checks, logs, limits or metrics) reached ${fmtRatio(ratios.coldCryptoFloorToFloor)} the floor cold, ` +
        `${fmtRatio(ratios.warmCryptoFloorToFloor)} warm; the service ${fmtRatio(ratios.coldServiceToCryptoFloor)} the crypto floor cold, ` +
        `${fmtRatio(ratios.warmServiceToCryptoFloor)} warm`,
    );
    if (ratios.coldCpuFloorToService !== null && ratios.coldCpuTypicalToService !== null) {
      log(
        `  server CPU per request, cold (the same ratios if each server had a core to itself): ` +
          `service/floor ${fmtRatio(ratios.coldCpuFloorToService)}, service/typical ${fmtRatio(ratios.coldCpuTypicalToService)}`,
      );
    }
    if (withCluster) {
      log(`req/s ratios, service with WEB_CONCURRENCY=${settings.workers} (one worker per core; the other servers stay single processes):`);
      log(
        `  cold: per-core service/floor ${fmtRatio(ratios.coldClusterToFloor!)}, per-core service/crypto floor ${fmtRatio(ratios.coldClusterToCryptoFloor!)}, ` +
          `per-core service/typical ${fmtRatio(ratios.coldClusterToTypical!)}`,
      );
      log(
        `  warm: per-core service/floor ${fmtRatio(ratios.warmClusterToFloor!)}, per-core service/crypto floor ${fmtRatio(ratios.warmClusterToCryptoFloor!)}, ` +
          `per-core service/typical ${fmtRatio(ratios.warmClusterToTypical!)}`,
      );
      log(`  (the load generator shares the same ${availableParallelism()} CPUs: see its CPU share in the tables)`);
    }

    closeSync(logSink.fd);
    const stats = logStats(logSink);
    const served = [coldOf('service'), warmOf('service')].reduce((sum, r) => sum + r.requests, 0);
    const serviceLog =
      stats === null
        ? null
        : { destination: logSink.temporary ? 'temporary file' : logSink.path, ...stats, bytesPerRequest: served > 0 ? stats.bytes / served : 0 };
    if (serviceLog !== null) {
      log(
        `service log (info, pino to a file): ${serviceLog.lines.toLocaleString('en-US')} lines, ${fmt(mb(serviceLog.bytes), 1)} MB, ~${Math.round(serviceLog.bytesPerRequest)} bytes per request`,
      );
    } else {
      log(`service log: info level to ${logSink.path}`);
    }

    let profile: LoadPart['profile'] = null;
    if (profileDir !== null) {
      // The main thread's profile is the largest; module-loader threads write small ones of their own.
      const file = readdirSync(profileDir)
        .filter((f) => f.endsWith('.cpuprofile'))
        .sort((a, b) => statSync(join(profileDir, b)).size - statSync(join(profileDir, a)).size)[0];
      if (file !== undefined) {
        const summary = summarizeProfile(join(profileDir, file), 40, SERVICE_STAGES, measuredFrom);
        profile = { ...summary, file: join(profileDir, file) };
        section('Service CPU profile (cold and warm runs; start-up and warm-up left out)');
        log(`  ${profile.file}`);
        log('  V8 samples by wall clock: time the process waited for a CPU is charged to where it was preempted,');
        log('  usually the socket write that wakes the load generator. Server CPU µs/req above is the unbiased total.');
        printProfile(summary, log, 30);
      } else {
        log(`no CPU profile was written to ${profileDir}`);
      }
    }
    return { servers: serverInfo, workers: withCluster ? settings.workers : null, cold: coldResults, warm: warmResults, ratios, serviceLog, profile };
  } finally {
    for (const running of Object.values(servers)) await running.stop(3000);
    for (const sink of [logSink, clusterLogSink]) if (sink !== null) closeLogSink(sink);
  }
}

// ---------------------------------------------------------------------------------------------
// Memory

interface MemoryPart {
  users: number;
  durationSeconds: number;
  /** Start and end are medians over this many seconds at each end of the run. */
  windowSeconds: number;
  idleRssMb: number;
  startRssMb: number;
  /** Highest sample during the measured run. */
  peakRssMb: number;
  /** VmHWM: highest since the process started, warm-up included. */
  processPeakRssMb: number | null;
  endRssMb: number;
  growthMb: number;
  /** Least-squares slope over the second half of the run. */
  slopeMbPerMinute: number;
  samples: Array<{ t: number; rssMb: number }>;
  load: LoadResult;
}

async function runMemoryPart(settings: Settings, harness: Harness, tokens: string[], warm: string[]): Promise<MemoryPart> {
  section('Memory');
  const logSink = openLogSink(settings, harness.workDir, 'service-memory');
  let server: ServerProcess | null = null;
  try {
    server = await startServer('service', harness, { probeToken: warm[0]!, logFd: logSink.fd });
    const idle = procStatus(server.pid);
    log(
      `service pid ${server.pid}: ${Math.min(5, settings.memoryDurationSeconds)} s warm-up, then ${settings.memoryDurationSeconds} s at load with ` +
        `${tokens.length.toLocaleString('en-US')} distinct users (${settings.connections} connections), RSS sampled every second`,
    );
    // Let the heap reach its working size first, so "growth" means growth under steady load.
    await runLoad({ url: server.url, tokens: warm, durationSeconds: Math.min(5, settings.memoryDurationSeconds), connections: settings.connections });
    const sampler = new RssSampler(server.pid, 1000);
    sampler.start();
    const load = mergeSamples([
      await runLoad({
        url: server.url,
        tokens,
        durationSeconds: settings.memoryDurationSeconds,
        connections: settings.connections,
        serverPid: server.pid,
      }),
    ]);
    sampler.stop();
    const peak = procStatus(server.pid);
    const samples = sampler.samples.map((s) => ({ t: s.t, rssMb: mb(s.rss) }));
    // RSS breathes with the garbage collector; compare the medians of the first and last windows.
    const window = Math.min(10, settings.memoryDurationSeconds / 6);
    const last = samples[samples.length - 1]?.t ?? 0;
    const start = median(samples.filter((s) => s.t <= window).map((s) => s.rssMb));
    const end = median(samples.filter((s) => s.t >= last - window).map((s) => s.rssMb));
    const secondHalf = samples.filter((s) => s.t >= settings.memoryDurationSeconds / 2).map((s) => ({ x: s.t / 60, y: s.rssMb }));
    const result: MemoryPart = {
      users: tokens.length,
      durationSeconds: settings.memoryDurationSeconds,
      windowSeconds: window,
      idleRssMb: idle === null ? 0 : mb(idle.rss),
      startRssMb: start,
      peakRssMb: Math.max(...samples.map((s) => s.rssMb)),
      processPeakRssMb: peak === null ? null : mb(peak.peakRss),
      endRssMb: end,
      growthMb: end - start,
      slopeMbPerMinute: slope(secondHalf),
      samples,
      load,
    };
    log(
      table([
        ['RSS (MB)', 'idle', `start (first ${fmt(window, 0)} s)`, 'peak', `end (last ${fmt(window, 0)} s)`, 'growth', 'slope, 2nd half'],
        [
          'service',
          fmt(result.idleRssMb, 1),
          fmt(result.startRssMb, 1),
          fmt(result.peakRssMb, 1),
          fmt(result.endRssMb, 1),
          `${result.growthMb >= 0 ? '+' : ''}${fmt(result.growthMb, 1)}`,
          `${fmt(result.slopeMbPerMinute, 1)} MB/min`,
        ],
      ]),
    );
    log(
      `at ${fmt(load.requestsPerSecond, 0)} req/s, ${load.requests.toLocaleString('en-US')} requests, p99 ${fmt(load.latencyMs.p99, 2)} ms, ` +
        `non-2xx ${load.non2xx}, errors ${load.errors + load.timeouts}`,
    );
    const every = Math.max(1, Math.round(samples.length / 12));
    log(
      `RSS every ${every} s: ${samples
        .filter((_, i) => i % every === 0)
        .map((s) => fmt(s.rssMb, 0))
        .join(' ')} MB`,
    );
    return result;
  } finally {
    await server?.stop(3000);
    closeLogSink(logSink);
  }
}

// ---------------------------------------------------------------------------------------------

interface Target {
  name: string;
  value: string;
  target: string;
  pass: boolean;
}

async function main(): Promise<void> {
  const settings = readSettings();
  SERVER_LABELS = serverLabels(settings.workers);
  const startedAt = new Date();
  const loadStart = loadavg();
  log(`stream-token-service benchmark — ${startedAt.toISOString()}`);
  log(
    `node ${process.version}, ${availableParallelism()} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'}), ${Math.round(totalmem() / 2 ** 30)} GiB, ` +
      `load average ${loadStart.map((l) => l.toFixed(2)).join(' ')}`,
  );
  log('Compare ratios within one run: absolute numbers move with the machine and what else it is doing.');

  const result: Record<string, unknown> = {
    startedAt: startedAt.toISOString(),
    machine: {
      node: process.version,
      cpus: availableParallelism(),
      cpuModel: cpus()[0]?.model.trim() ?? null,
      totalMemGiB: totalmem() / 2 ** 30,
      loadavgStart: loadStart,
    },
    settings,
  };
  const targets: Target[] = [];

  if (settings.micro) {
    section('Micro-benchmark: per-request work');
    const micro = await runMicro({ tokens: settings.microTokens, rounds: settings.microRounds, log });
    printMicro(micro, log);
    result.micro = micro;
    targets.push(
      { name: 'per-request work ÷ node:crypto floor, one at a time', value: withQuartiles(micro, 'service'), target: `≤ ${TARGETS.micro}×`, pass: micro.pass },
      {
        name: 'per-request work ÷ node:crypto floor, 50 in flight (batched)',
        value: withQuartiles(micro, 'service, 50 in flight'),
        target: `≤ ${TARGETS.micro}×`,
        pass: micro.batchedToFloor <= TARGETS.micro,
      },
    );
  }

  if (settings.load || settings.memory) {
    const workDir = mkdtempSync(join(tmpdir(), 'stream-token-service-bench-'));
    // Users 0 … cold-1 are the cold set, the next `warm` the warm set; the memory run takes the first N.
    const warmFirst = settings.load ? settings.coldUsers : 0;
    const needed = Math.max(warmFirst + settings.warmUsers, settings.memory ? settings.memoryUsers : 0);
    section('Session tokens');
    const pool = await sessionTokenPool({
      count: needed,
      port: settings.issuerPort,
      cacheFile: settings.freshTokens ? null : TOKEN_CACHE,
      ttlSeconds: 24 * 3600,
      minValiditySeconds: 2 * 3600,
    });
    const issuer = pool.issuer;
    const harness: Harness = { issuer, apiKey: 'bench_api_key', apiSecret: randomBytes(32).toString('hex'), workDir };
    try {
      log(
        `${pool.tokens.length.toLocaleString('en-US')} users' RS256 session tokens (kid, typ JWT, Clerk-shaped claims, iss ${issuer.issuer}), ` +
          `valid until ${new Date(pool.expiresAt * 1000).toISOString()}: ` +
          (pool.reused > 0 ? `${pool.reused.toLocaleString('en-US')} kept from an earlier run, ` : '') +
          `${pool.signed.toLocaleString('en-US')} signed now (${pool.signingSeconds.toFixed(1)} s), all before timing`,
      );
      const cold = pool.tokens.slice(0, settings.coldUsers);
      const warm = pool.tokens.slice(warmFirst, warmFirst + settings.warmUsers);
      const warmUserIds = pool.userIds.slice(warmFirst, warmFirst + settings.warmUsers);

      if (settings.load) {
        const load = await runLoadPart(settings, harness, cold, warm, warmUserIds);
        result.load = load;
        // The same targets for the single process and, when it ran, for one worker per core.
        const runs: Array<{ name: ServerName; label: string; toCryptoFloor: [cold: number, warm: number]; toTypical: number }> = [
          {
            name: 'service',
            label: 'service',
            toCryptoFloor: [load.ratios.coldServiceToCryptoFloor, load.ratios.warmServiceToCryptoFloor],
            toTypical: load.ratios.coldServiceToTypical,
          },
        ];
        if (load.workers !== null) {
          runs.push({
            name: 'cluster',
            label: `per-core service (WEB_CONCURRENCY=${load.workers})`,
            toCryptoFloor: [load.ratios.coldClusterToCryptoFloor!, load.ratios.warmClusterToCryptoFloor!],
            toTypical: load.ratios.coldClusterToTypical!,
          });
        }
        // Beside each ratio, its range over the slices (each pair taken in the same round): how much the
        // machine moved it within this run.
        const withSlices = (value: number, name: ServerName, other: ServerName, run: 'cold' | 'warm' = 'cold'): string => {
          const range = pairedRatioRange(load[run][name]!.sliceRequestsPerSecond, load[run][other]!.sliceRequestsPerSecond);
          return range === null ? fmtRatio(value) : `${fmtRatio(value)} (slices ${fmtRatioRange(range)})`;
        };
        for (const run of runs) {
          const results = [load.cold[run.name]!, load.warm[run.name]!];
          const [coldToCryptoFloor, warmToCryptoFloor] = run.toCryptoFloor;
          targets.push(
            {
              name: `cold req/s: ${run.label} ÷ crypto floor`,
              value: withSlices(coldToCryptoFloor, run.name, 'cryptoFloor'),
              target: `≥ ${TARGETS.vsCryptoFloor}×`,
              pass: coldToCryptoFloor >= TARGETS.vsCryptoFloor,
            },
            {
              name: `warm req/s: ${run.label} ÷ crypto floor`,
              value: withSlices(warmToCryptoFloor, run.name, 'cryptoFloor', 'warm'),
              target: `≥ ${TARGETS.vsCryptoFloor}×`,
              pass: warmToCryptoFloor >= TARGETS.vsCryptoFloor,
            },
            {
              name: `cold req/s: ${run.label} ÷ typical`,
              value: withSlices(run.toTypical, run.name, 'typical'),
              target: `≥ ${TARGETS.coldVsTypical}×`,
              pass: run.toTypical >= TARGETS.coldVsTypical,
            },
            {
              name: `${run.label} non-2xx and errors (cold + warm)`,
              value: String(results.reduce((n, r) => n + r.non2xx + r.errors + r.timeouts, 0)),
              target: '0',
              pass: results.every((r) => r.non2xx + r.errors + r.timeouts === 0),
            },
          );
        }
      }
      if (settings.memory) {
        const memory = await runMemoryPart(settings, harness, pool.tokens.slice(0, settings.memoryUsers), warm);
        result.memory = memory;
        targets.push(
          {
            name: `RSS growth over ${settings.memoryDurationSeconds} s, ${memory.users.toLocaleString('en-US')} users`,
            value: `${fmt(memory.growthMb, 1)} MB`,
            target: `< ${TARGETS.memoryGrowthMb} MB`,
            pass: memory.growthMb < TARGETS.memoryGrowthMb,
          },
          {
            name: 'memory run non-2xx and errors',
            value: String(memory.load.non2xx + memory.load.errors + memory.load.timeouts),
            target: '0',
            pass: memory.load.non2xx + memory.load.errors + memory.load.timeouts === 0,
          },
        );
      }
    } finally {
      await issuer.close();
      rmSync(workDir, { recursive: true, force: true });
    }
  }

  section('Summary');
  log(table([['target', 'this run', 'goal', ''], ...targets.map((t) => [t.name, t.value, t.target, t.pass ? 'PASS' : 'MISS'])]));
  const finishedAt = new Date();
  result.finishedAt = finishedAt.toISOString();
  result.durationSeconds = (finishedAt.getTime() - startedAt.getTime()) / 1000;
  (result.machine as Record<string, unknown>).loadavgEnd = loadavg();
  result.targets = targets;
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `bench-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  log(`\nwrote ${relative(process.cwd(), file)} (${Math.round(result.durationSeconds as number)} s in all)`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
