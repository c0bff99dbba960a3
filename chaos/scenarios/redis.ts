import { ChaosIssuer } from '../lib/issuer.js';
import { runLoad, type Sample } from '../lib/load.js';
import { ChaosRedis } from '../lib/redis.js';
import { mb, ms, pct, serviceEnv, target, type Scenario, type ScenarioContext, type ScenarioResult } from '../lib/scenario.js';
import { sleep, startService } from '../lib/service.js';
import { formatSummary, percentile, share, summarize, within } from '../lib/stats.js';

const USERS = 1000;

async function outage(context: ScenarioContext, kind: 'killed' | 'paused'): Promise<ScenarioResult> {
  const rate = context.short ? 100 : 300;
  const beforeMs = context.short ? 2000 : 5000;
  const faultMs = context.short ? 5000 : 20_000;
  const afterMs = context.short ? 4000 : 10_000;
  const issuer = await ChaosIssuer.start();
  const redis = await ChaosRedis.start();
  const tokens = Array.from({ length: USERS }, (_, i) => issuer.token(`chaos_user_${i}`));
  const service = await startService(serviceEnv(issuer, { REDIS_URL: redis.url }));
  try {
    // One pass over every user first, so the run measures the fault, not first-request costs.
    await runLoad({ target: service.url, ratePerSecond: 500, durationMs: 2000, connections: 50, next: (i) => tokenRequest(tokens[i % USERS]!) });
    const rssBefore = service.rss();
    let rssPeak = rssBefore;
    const rssTimer = setInterval(() => (rssPeak = Math.max(rssPeak, service.rss())), 250);
    let backAt = Number.NaN;
    let limitsBackAt = Number.NaN;
    const faults = (async () => {
      await sleep(beforeMs);
      if (kind === 'killed') await redis.kill();
      else redis.pause();
      await sleep(faultMs);
      if (kind === 'killed') await redis.restart();
      else redis.resume();
      backAt = performance.now();
      // Under load, commands flow again once the service uses Redis again.
      while (performance.now() - backAt < 30_000 && !(await redisInUse(redis))) await sleep(20);
      limitsBackAt = performance.now();
    })();
    const samples = await runLoad({
      target: service.url,
      ratePerSecond: rate,
      durationMs: beforeMs + faultMs + afterMs,
      connections: 100,
      next: (i) => tokenRequest(tokens[i % USERS]!),
    });
    await faults;
    clearInterval(rssTimer);
    const fault = within(samples, { from: beforeMs, to: beforeMs + faultMs });
    const ok = (s: Sample) => s.status === 200;
    const okShare = share(samples, ok);
    // A killed Redis is noticed at once (the connection drops); a frozen one only after command
    // timeouts, so there the bound holds from 2 s into the fault, and every request is answered in 2 s.
    const settled = kind === 'killed' ? fault : within(samples, { from: beforeMs + 2000, to: beforeMs + faultMs });
    const p99 = percentile(
      settled.filter((s) => s.status !== 0).map((s) => s.latencyMs),
      99,
    );
    const slowest = Math.max(...fault.map((s) => s.latencyMs));
    const recoveryMs = limitsBackAt - backAt;
    return {
      lines: [
        formatSummary('before', summarize(within(samples, { from: 0, to: beforeMs }))),
        formatSummary(`Redis ${kind}`, summarize(fault)),
        formatSummary('after', summarize(within(samples, { from: beforeMs + faultMs, to: Infinity }))),
      ],
      targets: [
        target('token requests answered 200 ≥ 99.9%', pct(okShare), okShare >= 0.999),
        target(kind === 'killed' ? 'p99 while Redis is killed ≤ 50 ms' : 'p99 from 2 s into the freeze ≤ 50 ms', ms(p99), p99 <= 50),
        ...(kind === 'paused' ? [target('every request answered within 2 s', ms(slowest), slowest <= 2000)] : []),
        target('memory growth ≤ 10 MB', mb(rssPeak - rssBefore), rssPeak - rssBefore <= 10 * 1024 * 1024),
        target('Redis-backed again ≤ 5 s after its return', ms(recoveryMs), recoveryMs <= 5000),
      ],
    };
  } finally {
    await service.stop();
    redis.resume();
    await redis.kill();
    await issuer.close();
  }
}

/** Whether Redis is answering commands now: its command count moves within 100 ms, minus this probe's own. */
async function redisInUse(redis: ChaosRedis): Promise<boolean> {
  const count = async () => Number(/total_commands_processed:(\d+)/.exec(await redis.cli('INFO', 'stats'))?.[1] ?? 0);
  const first = await count();
  await sleep(100);
  return (await count()) - first > 2;
}

function tokenRequest(token: string) {
  return { path: '/stream/token', headers: { authorization: `Bearer ${token}` } };
}

export const redisKilled: Scenario = {
  name: 'redis-killed',
  summary: 'Redis killed under load, default settings: tokens keep flowing',
  run: (context) => outage(context, 'killed'),
};

export const redisPaused: Scenario = {
  name: 'redis-paused',
  summary: 'Redis frozen (SIGSTOP) under load: commands hang instead of failing',
  run: (context) => outage(context, 'paused'),
};
