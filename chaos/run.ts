/**
 * `npm run chaos`: faults under load, each scenario holding its targets.
 *
 *   npm run chaos                      every scenario, full length (about 6 minutes)
 *   npm run chaos -- --short           the CI form: shorter faults, lower rates (under 3 minutes)
 *   npm run chaos -- redis-killed …    only the named scenarios
 *   npm run chaos -- --list            the scenarios and what each does
 *
 * Exits 1 when any target is missed. Everything runs on loopback: the service
 * as a child process (`serve`, production mode), and a Redis, an identity
 * provider and a Stream stand-in of the scenario's own.
 */
import { parseArgs } from 'node:util';
import type { Scenario } from './lib/scenario.js';
import { jwksDownAtStart, jwksOutage } from './scenarios/jwks.js';
import { slowClients, soak } from './scenarios/load.js';
import { redisKilled, redisPaused } from './scenarios/redis.js';
import { sigtermCluster, sigtermOne } from './scenarios/shutdown.js';
import { streamSlowClosed, streamSlowOpen } from './scenarios/stream.js';
import { webhookOrder } from './scenarios/webhooks.js';

const SCENARIOS: Scenario[] = [
  redisKilled,
  redisPaused,
  streamSlowClosed,
  streamSlowOpen,
  jwksDownAtStart,
  jwksOutage,
  sigtermOne,
  sigtermCluster,
  webhookOrder,
  slowClients,
  soak,
];

const { values, positionals } = parseArgs({ options: { short: { type: 'boolean' }, list: { type: 'boolean' } }, allowPositionals: true });

if (values.list) {
  for (const s of SCENARIOS) console.log(`${s.name.padEnd(20)} ${s.summary}`);
  process.exit(0);
}
const unknown = positionals.filter((name) => !SCENARIOS.some((s) => s.name === name));
if (unknown.length > 0) {
  console.error(`unknown scenario: ${unknown.join(', ')} (see --list)`);
  process.exit(2);
}
const chosen = positionals.length > 0 ? SCENARIOS.filter((s) => positionals.includes(s.name)) : SCENARIOS;
const short = values.short === true;
const rows: Array<{ scenario: string; name: string; measured: string; ok: boolean }> = [];
const started = performance.now();

for (const scenario of chosen) {
  console.log(`\n▶ ${scenario.name}: ${scenario.summary}${short ? ' (short)' : ''}`);
  const t0 = performance.now();
  try {
    const result = await scenario.run({ short, log: (line) => console.log(`  ${line}`) });
    for (const line of result.lines) console.log(line);
    for (const t of result.targets) {
      console.log(`  ${t.ok ? 'PASS' : 'MISS'}  ${t.name}: ${t.measured}`);
      rows.push({ scenario: scenario.name, ...t });
    }
  } catch (error) {
    console.log(`  FAIL  the scenario could not run: ${(error as Error).stack ?? String(error)}`);
    rows.push({ scenario: scenario.name, name: 'scenario ran', measured: (error as Error).message, ok: false });
  }
  console.log(`  (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
}

const missed = rows.filter((r) => !r.ok);
console.log(
  `\nChaos summary (${short ? 'short' : 'full'}, ${((performance.now() - started) / 1000).toFixed(0)} s): ${rows.length - missed.length} of ${rows.length} targets held`,
);
for (const r of rows) console.log(`  ${r.ok ? 'PASS' : 'MISS'}  ${r.scenario.padEnd(16)} ${r.name}: ${r.measured}`);
process.exit(missed.length > 0 ? 1 : 0);
