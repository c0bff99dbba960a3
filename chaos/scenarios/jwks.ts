import { ChaosIssuer } from '../lib/issuer.js';
import { runLoad, send } from '../lib/load.js';
import { ms, pct, serviceEnv, target, type Scenario, type ScenarioResult } from '../lib/scenario.js';
import { sleep, startService } from '../lib/service.js';
import { formatSummary, share, summarize } from '../lib/stats.js';
import { Agent } from 'node:http';

async function once(url: string, token: string) {
  const agent = new Agent();
  const sample = await send(agent, url, { path: '/stream/token', headers: { authorization: `Bearer ${token}` } }, performance.now(), 15_000);
  agent.destroy();
  return sample;
}

export const jwksDownAtStart: Scenario = {
  name: 'jwks-down-at-start',
  summary: 'The service starts while the issuer is down; the issuer comes back',
  async run(context): Promise<ScenarioResult> {
    const issuer = await ChaosIssuer.start();
    issuer.mode = 'down';
    const service = await startService(serviceEnv(issuer), { waitReady: false });
    try {
      await sleep(context.short ? 3000 : 8000);
      const notReady = service.readyAfterMs === null;
      issuer.mode = 'ok';
      const back = performance.now();
      while (service.readyAfterMs === null && performance.now() - back < 60_000) await sleep(20);
      const readyIn = performance.now() - back;
      return {
        lines: [`  JWKS requests while down: ${issuer.jwksRequests}`],
        targets: [
          target('not ready while the issuer is down', notReady ? 'not ready' : 'ready', notReady),
          target('ready ≤ 3 s after the issuer is back', ms(readyIn), readyIn <= 3000),
        ],
      };
    } finally {
      await service.stop();
      await issuer.close();
    }
  },
};

export const jwksOutage: Scenario = {
  name: 'jwks-outage',
  summary: 'The JWKS goes down, then hangs, with load on known keys; a new key appears meanwhile',
  async run(context): Promise<ScenarioResult> {
    const issuer = await ChaosIssuer.start();
    // Short key cache so the outage is seen by refreshes during the run.
    const service = await startService(serviceEnv(issuer, { JWKS_CACHE_TTL_SECONDS: '10', JWKS_COOLDOWN_SECONDS: '5' }));
    try {
      const known = Array.from({ length: 200 }, (_, i) => issuer.token(`chaos_known_${i}`));
      const durationMs = context.short ? 6000 : 15_000;
      const faults = (async () => {
        await sleep(1000);
        issuer.mode = 'down';
        await sleep(durationMs / 2 - 1000);
        issuer.mode = 'hang';
      })();
      const samples = await runLoad({
        target: service.url,
        ratePerSecond: 100,
        durationMs,
        connections: 50,
        next: (i) => ({ path: '/stream/token', headers: { authorization: `Bearer ${known[i % known.length]}` } }),
      });
      await faults;
      const knownOk = share(samples, (s) => s.status === 200);

      issuer.rotate();
      const fresh = issuer.token('chaos_fresh');
      const hung = await once(service.url, fresh);
      issuer.mode = 'down';
      const down = await once(service.url, fresh);
      issuer.mode = 'ok';
      const back = performance.now();
      let accepted = Number.NaN;
      while (performance.now() - back < 30_000) {
        if ((await once(service.url, fresh)).status === 200) {
          accepted = performance.now() - back;
          break;
        }
        await sleep(100);
      }
      const retryable = (s: typeof hung) => s.status === 503 && s.code === 'keys_unavailable' && s.retryAfter !== null;
      return {
        lines: [
          formatSummary('known keys during the outage', summarize(samples)),
          `  new kid while the JWKS hangs: ${hung.status} ${hung.code ?? ''} in ${ms(hung.latencyMs)}; while down: ${down.status} ${down.code ?? ''}`,
        ],
        targets: [
          target('tokens with known keys answered 200', pct(knownOk), knownOk === 1),
          target('new kid while the JWKS is down: 503 keys_unavailable with Retry-After', `${down.status} ${down.code}`, retryable(down)),
          target(
            'new kid while the JWKS hangs: 503 keys_unavailable within 1.5 s',
            `${hung.status} ${hung.code} in ${ms(hung.latencyMs)}`,
            retryable(hung) && hung.latencyMs <= 1500,
          ),
          // After failed fetches the retry interval grows up to the cooldown (5 s here).
          target("new kid accepted within the cooldown (5 s) + 1 s of the JWKS's return", ms(accepted), accepted <= 6000),
        ],
      };
    } finally {
      await service.stop();
      await issuer.close();
    }
  },
};
