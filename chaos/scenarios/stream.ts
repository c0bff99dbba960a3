import { startStreamStandIn } from '../../test/support/stream-standin.js';

/** The service's gauge of Stream API calls under way. */
const IN_FLIGHT_METRIC = 'stream_token_service_stream_api_in_flight';
import { ChaosIssuer } from '../lib/issuer.js';
import { runLoad } from '../lib/load.js';
import { ms, serviceEnv, STREAM_KEY, STREAM_SECRET, target, type Scenario, type ScenarioContext, type ScenarioResult } from '../lib/scenario.js';
import { watchMetric } from '../lib/metrics.js';
import { sleep, startService } from '../lib/service.js';
import { formatSummary, percentile, summarize, within } from '../lib/stats.js';

async function streamFault(context: ScenarioContext, mode: 'closed' | 'open'): Promise<ScenarioResult> {
  const rate = context.short ? 100 : 150;
  const beforeMs = 2000;
  const faultMs = context.short ? 5000 : 15_000;
  const afterMs = context.short ? 2000 : 5000;
  const cap = 64;
  const issuer = await ChaosIssuer.start();
  const stream = await startStreamStandIn({ apiKey: STREAM_KEY, apiSecret: STREAM_SECRET });
  const total = Math.ceil(((beforeMs + faultMs + afterMs) / 1000) * rate) + 10;
  // Every request is a new user, so every one needs an upsert.
  const tokens = Array.from({ length: total }, (_, i) => issuer.token(`chaos_new_${i}`));
  const service = await startService(
    serviceEnv(issuer, { STREAM_SYNC_USERS: 'true', STREAM_API_BASE_URL: stream.baseURL, STREAM_SYNC_FAILURE: mode, STREAM_API_MAX_CONCURRENCY: String(cap) }),
  );
  try {
    const faults = (async () => {
      await sleep(beforeMs);
      stream.failure = { delayMs: 10_000, path: '/users' };
      await sleep(faultMs);
      stream.failure = null;
    })();
    const inFlight = watchMetric(service.url, IN_FLIGHT_METRIC);
    const samples = await runLoad({
      target: service.url,
      ratePerSecond: rate,
      durationMs: beforeMs + faultMs + afterMs,
      connections: 200,
      next: (i) => ({ path: '/stream/token', headers: { authorization: `Bearer ${tokens[i]}` } }),
    });
    await faults;
    inFlight.stop();
    const settled = within(samples, { from: beforeMs + 2000, to: beforeMs + faultMs });
    const p99 = percentile(
      settled.filter((s) => s.status !== 0).map((s) => s.latencyMs),
      99,
    );
    const expected = mode === 'closed' ? 503 : 200;
    const wrong = settled.filter((s) => !(s.status === 200 || (mode === 'closed' && s.status === 503 && s.retryAfter !== null))).length;
    const peak = inFlight.peak();
    return {
      lines: [
        formatSummary('before', summarize(within(samples, { from: 0, to: beforeMs }))),
        formatSummary('Stream answering in 10 s', summarize(within(samples, { from: beforeMs, to: beforeMs + faultMs }))),
        formatSummary('after', summarize(within(samples, { from: beforeMs + faultMs, to: Infinity }))),
      ],
      targets: [
        target(`p99 from 2 s into the fault ≤ 100 ms (STREAM_SYNC_FAILURE=${mode})`, ms(p99), p99 <= 100),
        target(`answers from 2 s into the fault are ${expected}${mode === 'closed' ? ' with Retry-After' : ''} (or 200)`, `${wrong} others`, wrong === 0),
        target(`Stream calls in flight ≤ ${cap}`, Number.isNaN(peak) ? 'not exported' : String(peak), peak <= cap),
      ],
    };
  } finally {
    await service.stop();
    await stream.close();
    await issuer.close();
  }
}

export const streamSlowClosed: Scenario = {
  name: 'stream-slow',
  summary: 'Stream answering in 10 s for a while, new users arriving, STREAM_SYNC_FAILURE=closed',
  run: (context) => streamFault(context, 'closed'),
};

export const streamSlowOpen: Scenario = {
  name: 'stream-slow-open',
  summary: 'The same with STREAM_SYNC_FAILURE=open: tokens without sync',
  run: (context) => streamFault(context, 'open'),
};
