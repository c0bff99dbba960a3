import { isRecord } from '../shared/is-record.js';

export interface DecodedToken {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  times: Record<string, string>;
}

function decodeSegment(segment: string): Record<string, unknown> | null {
  if (!/^[A-Za-z0-9_-]+$/.test(segment)) return null;
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return isRecord(value) ? value : null;
  } catch {
    return null;
  }
}

/** Header and claims of a compact JWT, unverified, with `exp`/`iat`/`nbf` spelled out for a person. */
export function decodeUnverified(token: string, nowMs: number = Date.now()): DecodedToken | null {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  const header = decodeSegment(parts[0] as string);
  const claims = decodeSegment(parts[1] as string);
  if (header === null || claims === null) return null;
  const times: Record<string, string> = {};
  for (const name of ['iat', 'nbf', 'exp']) {
    const value = claims[name];
    if (typeof value === 'number' && Number.isFinite(value)) {
      const delta = Math.round(value - nowMs / 1000);
      times[name] = `${new Date(value * 1000).toISOString()} (${delta >= 0 ? `in ${delta}` : `${-delta}`} s${delta < 0 ? ' ago' : ''})`;
    }
  }
  return { header, claims, times };
}
