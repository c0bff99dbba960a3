import autocannon from 'autocannon';
import { procCpuSecondsEach, processTree } from './processes.js';
import { percentile } from './stats.js';

export interface LoadOptions {
  url: string;
  /**
   * Session tokens. Connection c sends tokens o+c, o+c+N, o+c+2N, … (N
   * connections, o = `offset`) in turn, so concurrent requests carry
   * different users and a token comes back only after every other one has
   * been sent.
   */
  tokens: readonly string[];
  /** Where in `tokens` this run starts (a later slice continues where the previous one stopped). */
  offset?: number;
  durationSeconds: number;
  connections: number;
  /** pid of the server, to measure its CPU time (and its descendants': node:cluster workers). */
  serverPid?: number;
}

/** What one run (or several runs merged) measured. */
export interface LoadSample {
  requests: number;
  durationSeconds: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  /** Every response's time in milliseconds, ascending. */
  latencies: Float64Array;
  /** CPU time of the server's processes together. */
  serverCpuSeconds: number | null;
  /** The same per process: the server first, then its descendants (cluster workers). */
  serverCpuSecondsByProcess: number[] | null;
  loadGeneratorCpuSeconds: number;
  wallSeconds: number;
}

export interface LoadResult {
  requests: number;
  durationSeconds: number;
  requestsPerSecond: number;
  /** Latency percentiles in milliseconds, from every response's own timing. */
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  /** CPU time the server used per request, microseconds (user + system, all its processes). */
  serverCpuMicrosPerRequest: number | null;
  /** Share of one core the server used (all its processes: up to N for N processes). */
  serverCpuShare: number | null;
  /** How many processes the server ran (1, or a cluster primary and its workers). */
  serverProcesses: number;
  /** Share of one core per process: the server (a cluster's primary) first, then its workers. */
  serverCpuShareByProcess: number[] | null;
  /** Share of one core the load generator used. */
  loadGeneratorCpuShare: number;
  /** CPU time the load generator used per request, microseconds. */
  loadGeneratorCpuMicrosPerRequest: number | null;
  /** How many runs were merged into this result. */
  slices: number;
  /** Requests/s of each merged run, in the order taken (for ratios between servers slice by slice). */
  sliceRequestsPerSecond: number[];
}

/** One autocannon run: POST /stream/token with rotating bearer tokens, pipelining 1. */
export async function runLoad(options: LoadOptions): Promise<LoadSample> {
  const tokens = options.tokens;
  const offset = options.offset ?? 0;
  let nextClient = 0;
  let latencies = new Float64Array(1 << 16);
  let count = 0;

  const serverProcesses = options.serverPid !== undefined ? processTree(options.serverPid) : [];
  const cpuBefore = procCpuSecondsEach(serverProcesses);
  const selfBefore = process.cpuUsage();
  const started = process.hrtime.bigint();

  let finish: (result: autocannon.Result) => void = () => {};
  let fail: (err: unknown) => void = () => {};
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const instance = autocannon(
    {
      url: options.url,
      connections: options.connections,
      pipelining: 1,
      duration: options.durationSeconds,
      timeout: 10,
      method: 'POST',
      // Each connection gets its own share of the tokens as requests built once, up front, so the load
      // generator does not rebuild a request per send.
      setupClient: (client) => {
        const c = nextClient++ % options.connections;
        const requests: autocannon.Request[] = [];
        const perClient = Math.max(1, Math.ceil(tokens.length / options.connections));
        for (let k = 0; k < perClient; k++) {
          const token = tokens[(offset + c + k * options.connections) % tokens.length]!;
          requests.push({ method: 'POST', path: '/stream/token', headers: { authorization: `Bearer ${token}` } });
        }
        client.setRequests(requests);
      },
    },
    (err, result) => (err ? fail(err) : finish(result)),
  );
  instance.on('response', (_client, _status, _bytes, responseTime) => {
    if (count === latencies.length) {
      const grown = new Float64Array(latencies.length * 2);
      grown.set(latencies);
      latencies = grown;
    }
    latencies[count++] = responseTime;
  });
  const result = await done;

  const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  const self = process.cpuUsage(selfBefore);
  const cpuAfter = procCpuSecondsEach(serverProcesses);
  // A process that was not there at both ends (none should come or go during a run) counts as using nothing.
  const byProcess = serverProcesses.map((pid) => {
    const before = cpuBefore.get(pid);
    const after = cpuAfter.get(pid);
    return before == null || after == null ? 0 : after - before;
  });
  const measured = serverProcesses.length > 0 && cpuBefore.get(serverProcesses[0]!) != null && cpuAfter.get(serverProcesses[0]!) != null;
  const statusCodes: Record<string, number> = {};
  for (const [code, stats] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = (stats as { count: number }).count;
  return {
    requests: result.requests.total,
    durationSeconds: result.duration,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
    latencies: latencies.slice(0, count).sort(),
    serverCpuSeconds: measured ? byProcess.reduce((sum, seconds) => sum + seconds, 0) : null,
    serverCpuSecondsByProcess: measured ? byProcess : null,
    loadGeneratorCpuSeconds: (self.user + self.system) / 1e6,
    wallSeconds,
  };
}

/** Several runs against one server as one result: requests over total time, percentiles over every response. */
export function mergeSamples(samples: readonly LoadSample[]): LoadResult {
  const requests = samples.reduce((n, s) => n + s.requests, 0);
  const duration = samples.reduce((n, s) => n + s.durationSeconds, 0);
  const wall = samples.reduce((n, s) => n + s.wallSeconds, 0);
  const all = new Float64Array(samples.reduce((n, s) => n + s.latencies.length, 0));
  let at = 0;
  for (const s of samples) {
    all.set(s.latencies, at);
    at += s.latencies.length;
  }
  all.sort();
  const statusCodes: Record<string, number> = {};
  for (const s of samples) for (const [code, n] of Object.entries(s.statusCodes)) statusCodes[code] = (statusCodes[code] ?? 0) + n;
  const cpu = samples.every((s) => s.serverCpuSeconds !== null) ? samples.reduce((n, s) => n + s.serverCpuSeconds!, 0) : null;
  const processes = samples[0]?.serverCpuSecondsByProcess?.length ?? 1;
  const sameProcesses = samples.every((s) => s.serverCpuSecondsByProcess !== null && s.serverCpuSecondsByProcess.length === processes);
  const byProcess =
    sameProcesses && wall > 0 ? Array.from({ length: processes }, (_, i) => samples.reduce((n, s) => n + s.serverCpuSecondsByProcess![i]!, 0) / wall) : null;
  return {
    requests,
    durationSeconds: duration,
    requestsPerSecond: duration > 0 ? requests / duration : 0,
    latencyMs: {
      p50: percentile(all, 0.5),
      p90: percentile(all, 0.9),
      p99: percentile(all, 0.99),
      max: all.length > 0 ? all[all.length - 1]! : 0,
    },
    non2xx: samples.reduce((n, s) => n + s.non2xx, 0),
    errors: samples.reduce((n, s) => n + s.errors, 0),
    timeouts: samples.reduce((n, s) => n + s.timeouts, 0),
    statusCodes,
    serverCpuMicrosPerRequest: cpu !== null && requests > 0 ? (cpu * 1e6) / requests : null,
    serverCpuShare: cpu !== null && wall > 0 ? cpu / wall : null,
    serverProcesses: processes,
    serverCpuShareByProcess: byProcess,
    loadGeneratorCpuShare: wall > 0 ? samples.reduce((n, s) => n + s.loadGeneratorCpuSeconds, 0) / wall : 0,
    loadGeneratorCpuMicrosPerRequest: requests > 0 ? (samples.reduce((n, s) => n + s.loadGeneratorCpuSeconds, 0) * 1e6) / requests : null,
    slices: samples.length,
    sliceRequestsPerSecond: samples.map((s) => (s.durationSeconds > 0 ? s.requests / s.durationSeconds : 0)),
  };
}
