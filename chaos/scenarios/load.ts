import { connect, type Socket } from 'node:net';
import { ChaosIssuer } from '../lib/issuer.js';
import { runLoad } from '../lib/load.js';
import { mb, ms, pct, serviceEnv, target, type Scenario, type ScenarioResult } from '../lib/scenario.js';
import { sleep, startService } from '../lib/service.js';
import { formatSummary, percentile, share, summarize } from '../lib/stats.js';

export const slowClients: Scenario = {
  name: 'slow-clients',
  summary: 'Clients that trickle their headers or stall their bodies, beside normal load',
  async run(context): Promise<ScenarioResult> {
    const slowCount = context.short ? 100 : 300;
    const issuer = await ChaosIssuer.start();
    const service = await startService(serviceEnv(issuer, { HTTP_REQUEST_TIMEOUT_MS: '2000' }));
    const tokens = Array.from({ length: 200 }, (_, i) => issuer.token(`chaos_slow_${i}`));
    const sockets: Array<{ socket: Socket; closedAt: number | null; openedAt: number }> = [];
    const trickle = setInterval(() => {
      for (const s of sockets) if (s.closedAt === null) s.socket.write('x');
    }, 500);
    try {
      for (let i = 0; i < slowCount; i += 1) {
        const socket = connect(service.port, '127.0.0.1');
        const entry = { socket, closedAt: null as number | null, openedAt: performance.now() };
        socket.on('error', () => undefined);
        socket.on('close', () => (entry.closedAt = performance.now()));
        // Half trickle a header line forever; half send a whole head and then stall the body.
        socket.write(
          i % 2 === 0
            ? 'POST /stream/token HTTP/1.1\r\nHost: x\r\nX-Slow: '
            : 'POST /stream/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{',
        );
        sockets.push(entry);
      }
      const samples = await runLoad({
        target: service.url,
        ratePerSecond: 100,
        durationMs: context.short ? 4000 : 10_000,
        connections: 20,
        next: (i) => ({ path: '/stream/token', headers: { authorization: `Bearer ${tokens[i % tokens.length]}` } }),
      });
      await sleep(1000);
      const closedIn = sockets.map((s) => (s.closedAt === null ? Number.POSITIVE_INFINITY : s.closedAt - s.openedAt));
      const slowest = Math.max(...closedIn);
      const okShare = share(samples, (s) => s.status === 200);
      const p99 = percentile(
        samples.map((s) => s.latencyMs),
        99,
      );
      return {
        lines: [
          formatSummary(`normal load beside ${slowCount} slow clients`, summarize(samples)),
          `  slow connections closed: ${closedIn.filter(Number.isFinite).length}/${slowCount}, the last after ${ms(slowest)}`,
        ],
        targets: [
          target('normal requests answered 200', pct(okShare), okShare === 1),
          target('normal requests p99 ≤ 50 ms', ms(p99), p99 <= 50),
          target('every slow client cut off ≤ 4 s (HTTP_REQUEST_TIMEOUT_MS=2000)', ms(slowest), slowest <= 4000),
        ],
      };
    } finally {
      clearInterval(trickle);
      for (const s of sockets) s.socket.destroy();
      await service.stop();
      await issuer.close();
    }
  },
};

export const soak: Scenario = {
  name: 'soak',
  summary: 'Steady load over many users: every answer 200, memory level',
  async run(context): Promise<ScenarioResult> {
    const users = context.short ? 2000 : 10_000;
    const durationMs = context.short ? 6000 : 60_000;
    const issuer = await ChaosIssuer.start();
    const service = await startService(serviceEnv(issuer, { RATE_LIMIT_PER_USER: '100000' }));
    try {
      const tokens = Array.from({ length: users }, (_, i) => issuer.token(`chaos_soak_${i}`));
      await runLoad({
        target: service.url,
        ratePerSecond: 500,
        durationMs: 2000,
        connections: 50,
        next: (i) => ({ path: '/stream/token', headers: { authorization: `Bearer ${tokens[i % users]}` } }),
      });
      const rssStart = service.rss();
      let rssPeak = rssStart;
      const timer = setInterval(() => (rssPeak = Math.max(rssPeak, service.rss())), 500);
      const samples = await runLoad({
        target: service.url,
        ratePerSecond: 400,
        durationMs,
        connections: 50,
        next: (i) => ({ path: '/stream/token', headers: { authorization: `Bearer ${tokens[i % users]}` } }),
      });
      clearInterval(timer);
      const okShare = share(samples, (s) => s.status === 200);
      return {
        lines: [
          formatSummary(`${durationMs / 1000} s at 400 requests/s over ${users} users`, summarize(samples)),
          `  RSS ${mb(rssStart)} at the start, peak ${mb(rssPeak)}`,
        ],
        targets: [
          target('every answer 200', pct(okShare), okShare === 1),
          target('memory growth ≤ 30 MB', mb(rssPeak - rssStart), rssPeak - rssStart <= 30 * 1024 * 1024),
        ],
      };
    } finally {
      await service.stop();
      await issuer.close();
    }
  },
};
