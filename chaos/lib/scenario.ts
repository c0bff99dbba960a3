import type { ChaosIssuer } from './issuer.js';

export interface Target {
  /** What must hold, as the summary prints it. */
  name: string;
  /** What this run measured. */
  measured: string;
  ok: boolean;
}

export interface ScenarioResult {
  lines: string[];
  targets: Target[];
}

export interface ScenarioContext {
  /** The CI form: shorter faults, lower rates, same targets. */
  short: boolean;
  log(line: string): void;
}

export interface Scenario {
  name: string;
  summary: string;
  run(context: ScenarioContext): Promise<ScenarioResult>;
}

export const STREAM_KEY = 'chaoskey';
export const STREAM_SECRET = 'chaos-stream-secret-0123456789abcdef';

/** The service trusting `issuer` as its only OIDC issuer, limits out of the way (all load comes from 127.0.0.1). */
export function serviceEnv(issuer: ChaosIssuer, extra: Record<string, string> = {}): Record<string, string> {
  return {
    STREAM_API_KEY: STREAM_KEY,
    STREAM_API_SECRET: STREAM_SECRET,
    OIDC_ISSUERS: JSON.stringify([{ issuer: issuer.issuer, jwks_uri: issuer.jwksUrl, audience: 'chaos', algorithms: [issuer.alg] }]),
    RATE_LIMIT_PER_IP: '100000000',
    STREAM_SYNC_USERS: 'false',
    ...extra,
  };
}

export const target = (name: string, measured: string, ok: boolean): Target => ({ name, measured, ok });
export const ms = (value: number): string => (Number.isFinite(value) ? `${value.toFixed(1)} ms` : 'n/a');
export const pct = (value: number): string => (Number.isFinite(value) ? `${(value * 100).toFixed(2)}%` : 'n/a');
export const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
