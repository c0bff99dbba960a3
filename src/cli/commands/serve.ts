import { isLoopbackHost } from '../../config/index.js';
import type { ServiceConfig } from '../../config/index.js';
import { clusterMetricsText, serveClusterMetrics } from '../../cluster/metrics.js';
import { installShutdown } from '../../http/shutdown.js';
import { buildServer } from '../../server.js';
import { isClusterPrimary, isSupervisedWorker, superviseWorkers } from '../../cluster/supervisor.js';
import { loadCliConfig, type Command } from '../context.js';

export const serveCommand: Command = {
  summary: 'Run the service (production unless --dev or DEV_MODE=true)',
  usage: [
    'Usage: stream-token-service serve [--dev]',
    '',
    'Runs the HTTP service. Configuration comes from the environment and .env (see .env.example);',
    'invalid configuration exits 2 with every problem and its fix.',
    '',
    'Options:',
    '  --dev       dev mode: a built-in development issuer, placeholder Stream credentials when none',
    '              are set, in-memory state. Refused when NODE_ENV=production.',
    '  -h, --help  show this help',
  ].join('\n'),
  options: { dev: { type: 'boolean' } },
  async run(values, _positionals, context) {
    const config = loadCliConfig(context, { devMode: values.dev === true });
    if (typeof config === 'number') return config;
    const log = (message: string) => context.stderr(`${message}\n`);
    if (config.webConcurrency > 1 && isClusterPrimary()) {
      if (config.devMode) context.stderr(devBanner(config, config.http.port));
      serveClusterMetrics(log);
      const code = await superviseWorkers({
        workers: config.webConcurrency,
        delaySeconds: config.http.shutdownDelaySeconds,
        graceSeconds: config.http.shutdownGraceSeconds,
        log,
      });
      // Every worker has exited; end now rather than when the loop drains: a listening socket the cluster
      // opened for a worker that died while starting can stay open in the primary.
      process.exit(code);
    }
    // Only a worker this command forked has a primary that gathers metrics; under another
    // supervisor's cluster (pm2, say) the process serves its own.
    const { app, metricsApp } = await buildServer(config, isSupervisedWorker() ? { metricsExposition: (registry) => clusterMetricsText(registry) } : {});
    let listeningOn = config.http.port;
    try {
      await app.listen({ host: config.http.host, port: config.http.port });
      if (metricsApp !== null) {
        listeningOn = config.metrics.port as number;
        await metricsApp.listen({ host: config.http.host, port: listeningOn });
      }
    } catch (err) {
      context.stderr(`Cannot listen on ${config.http.host}:${listeningOn}: ${(err as Error).message}\n`);
      await app.close();
      return 1;
    }
    const address = app.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : config.http.port;
    warnAboutExposure(config, (msg) => app.log.warn(msg));
    if (config.devMode && isClusterPrimary()) context.stderr(devBanner(config, port));
    installShutdown(app, {
      delaySeconds: config.http.shutdownDelaySeconds,
      graceSeconds: config.http.shutdownGraceSeconds,
      // A worker stops on its supervisor's SIGTERM; the SIGINT a terminal sends the whole process group is not its to act on.
      ...(isSupervisedWorker() ? { signals: ['SIGTERM'], ignoredSignals: ['SIGINT'] } : {}),
    });
    return null;
  },
};

function warnAboutExposure(config: ServiceConfig, warn: (msg: string) => void): void {
  if (config.devMode && config.dev.allowNetwork) {
    warn(
      `DEV_MODE_ALLOW_NETWORK=true: dev mode serves on ${config.http.host}; anyone who reaches this service can get a session token, ` +
        'and with it a Stream token, for any user id. Never let real users reach it.',
    );
  }
  if (config.http.tls !== null || config.http.trustProxy !== false || isLoopbackHost(config.http.host)) return;
  warn(
    `Serving plain HTTP on ${config.http.host} without TRUST_PROXY: session tokens would cross the network unencrypted ` +
      'unless a TLS-terminating proxy is in front. Set TLS_CERT_FILE and TLS_KEY_FILE, or set TRUST_PROXY to the proxy in front of this service.',
  );
}

function devBanner(config: ServiceConfig, port: number): string {
  const base = `${config.http.tls !== null ? 'https' : 'http'}://localhost:${port}`;
  const lines = [
    '',
    '  ┌──────────────────────────────────────────────────────────────────────┐',
    '  │  DEV MODE: a development issuer signs session tokens for any user.   │',
    '  │  Never expose this server; production refuses to start in dev mode.  │',
    '  └──────────────────────────────────────────────────────────────────────┘',
    `  Service:        ${base}`,
    `  Dev issuer:     ${config.dev.issuer}  (JWKS ${base}/dev/.well-known/jwks.json)`,
    `  Keys:           ${config.dev.directory}`,
    config.stream.placeholderCredentials
      ? '  Stream:         generated placeholder credentials (real Stream will reject these tokens;\n                  to use your Stream app, set STREAM_API_KEY, STREAM_API_SECRET\n                  and DEV_MODE_ALLOW_NETWORK=true: anyone who reaches dev mode gets real tokens)'
      : `  Stream:         API key ${config.stream.apiKey}`,
    '',
    '  Try it:',
    `    TOKEN=$(curl -s -X POST ${base}/dev/token -H 'content-type: application/json' -d '{"user_id":"alice"}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).token')`,
    `    curl -s -X POST ${base}/stream/token -H "Authorization: Bearer $TOKEN"`,
    '',
  ];
  return `${lines.join('\n')}\n`;
}
