import type { ConfigProblem } from '../config/problems.js';
import { isLoopbackHost } from '../config/reader.js';

export interface DevModeFacts {
  host: string;
  /** STREAM_API_KEY and STREAM_API_SECRET were set, and Stream's API is not a loopback stand-in. */
  realStreamCredentials: boolean;
  /** Issuers other than the dev issuer. */
  otherIssuers: number;
  /** `DEV_MODE_ALLOW_NETWORK=true`. */
  allowNetwork: boolean;
}

const FIX =
  'run dev mode on a development machine only: unset HOST (it defaults to 127.0.0.1), STREAM_API_KEY/STREAM_API_SECRET and the identity provider settings, or set DEV_MODE_ALLOW_NETWORK=true if you accept that anyone who reaches this service can get a token for any user';

/**
 * The dev issuer signs a session token for any user id it is asked for, so
 * dev mode is refused wherever that could reach real users: a non-loopback
 * address, the real Stream secret, or real issuers beside it. One explicit
 * `DEV_MODE_ALLOW_NETWORK=true` overrides all three.
 */
export function devModeProblems(facts: DevModeFacts): ConfigProblem[] {
  if (facts.allowNetwork) return [];
  const problems: ConfigProblem[] = [];
  const refuse = (message: string) => problems.push({ variable: 'DEV_MODE', message, fix: FIX });
  if (!isLoopbackHost(facts.host)) refuse(`dev mode listens only on a loopback address, not HOST=${facts.host}: anyone on the network could mint tokens`);
  if (facts.realStreamCredentials) refuse('dev mode with real Stream credentials would turn dev session tokens for any user id into real Stream tokens');
  if (facts.otherIssuers > 0) refuse('dev mode beside real identity providers would let the dev issuer speak for any user of the app');
  return problems;
}
