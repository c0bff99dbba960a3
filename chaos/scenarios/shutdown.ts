import { Agent } from 'node:http';
import { ChaosIssuer } from '../lib/issuer.js';
import { send, type Sample } from '../lib/load.js';
import { serviceEnv, target, type Scenario, type ScenarioContext, type ScenarioResult } from '../lib/scenario.js';
import { sleep, startService } from '../lib/service.js';
import { formatSummary, summarize } from '../lib/stats.js';

const CONNECTIONS = 20;

async function sigterm(context: ScenarioContext, workers: number): Promise<ScenarioResult> {
  const delaySeconds = context.short ? 2 : 5;
  const issuer = await ChaosIssuer.start();
  const tokens = Array.from({ length: 100 }, (_, i) => issuer.token(`chaos_term_${i}`));
  const service = await startService(
    serviceEnv(issuer, {
      SHUTDOWN_DELAY_SECONDS: String(delaySeconds),
      SHUTDOWN_GRACE_SECONDS: '10',
      WEB_CONCURRENCY: String(workers),
      RATE_LIMIT_PER_USER: '100000000',
    }),
  );
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const started = performance.now();
  const samples: Sample[] = [];
  let exited = false;
  let exitCode: number | null = null;
  void service.exited.then((code) => {
    exited = true;
    exitCode = code;
  });
  // Closed-loop clients, as keep-alive callers behind a balancer are: each sends its next request when the last is answered.
  const loops = Array.from({ length: CONNECTIONS }, async (_, c) => {
    for (let i = 0; !exited; i += 1) {
      const sample = await send(
        agent,
        service.url,
        { path: '/stream/token', headers: { authorization: `Bearer ${tokens[(c * 7 + i) % tokens.length]}` } },
        started,
        15_000,
      );
      samples.push(sample);
      if (sample.error !== null) await sleep(20);
    }
  });
  await sleep(context.short ? 1500 : 3000);
  const termAt = performance.now() - started;
  service.child.kill('SIGTERM');
  let readyzDuringDelay = 0;
  const probe = (async () => {
    await sleep(delaySeconds * 500);
    const res = await fetch(`${service.url}/readyz`).catch(() => null);
    readyzDuringDelay = res?.status ?? 0;
    await res?.arrayBuffer();
  })();
  await Promise.race([Promise.all(loops), sleep(60_000)]);
  await probe;
  agent.destroy();
  await issuer.close();
  const delayEnd = termAt + delaySeconds * 1000;
  const after = samples.filter((s) => s.sentAt >= termAt);
  // Once the delay is over the port closes: a connection opened in that instant can be reset from the
  // kernel's accept queue, like a refusal. Until then, any reset is a failure of the shutdown.
  const resets = after.filter((s) => s.error !== null && s.error !== 'ECONNREFUSED' && s.sentAt < delayEnd).length;
  const refusedInDelay = after.filter((s) => s.error === 'ECONNREFUSED' && s.sentAt < delayEnd).length;
  const badRefusals = after.filter(
    (s) => s.status !== 0 && s.status !== 200 && !(s.status === 503 && s.contentType?.startsWith('application/problem+json') && s.retryAfter !== null),
  ).length;
  return {
    lines: [
      formatSummary('before SIGTERM', summarize(samples.filter((s) => s.sentAt < termAt))),
      formatSummary('after SIGTERM', summarize(after)),
      `  /readyz during the delay: ${readyzDuringDelay}; exit code ${exitCode}`,
    ],
    targets: [
      target('connection resets or unanswered requests until the port closes: 0', String(resets), resets === 0),
      target(`refused connections during the ${delaySeconds} s delay: 0`, String(refusedInDelay), refusedInDelay === 0),
      target('every refusal a problem+json 503 with Retry-After', `${badRefusals} others`, badRefusals === 0),
      target('/readyz 503 during the delay', String(readyzDuringDelay), readyzDuringDelay === 503),
      target('exit code 0', String(exitCode), exitCode === 0),
    ],
  };
}

export const sigtermOne: Scenario = {
  name: 'sigterm',
  summary: `SIGTERM under ${CONNECTIONS} keep-alive connections, one process`,
  run: (context) => sigterm(context, 1),
};

export const sigtermCluster: Scenario = {
  name: 'sigterm-cluster',
  summary: `SIGTERM under ${CONNECTIONS} keep-alive connections, WEB_CONCURRENCY=2`,
  run: (context) => sigterm(context, 2),
};
