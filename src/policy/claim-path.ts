/**
 * Claim paths: where a policy rule reads a value from a token's claims.
 *
 * Syntax (compiled once, at start):
 *   - `email_verified`               a top-level claim
 *   - `metadata.role`                a nested member, segments separated by dots
 *   - `groups[0]`                    an array element
 *   - `["https://example.com/roles"]` a member whose name contains dots or brackets
 *   - `app["tenant.id"].name`        any mix of the above
 *
 * A path with dots that also exists verbatim as a top-level claim (the
 * namespaced claims some OIDC providers emit, `https://example.com/roles`)
 * reads that claim first.
 *
 * Resolution only follows own properties of plain objects and arrays, so a
 * path can never reach `__proto__`, `constructor` or inherited members.
 */

import { isRecord } from '../shared/is-record.js';

export type ClaimSegment = string | number;

export interface CompiledClaimPath {
  /** The path as written in the policy file. */
  readonly source: string;
  readonly segments: readonly ClaimSegment[];
  /** The value at this path, or `undefined` when any step is missing. */
  resolve(claims: Readonly<Record<string, unknown>>): unknown;
}

export class ClaimPathError extends Error {
  override readonly name = 'ClaimPathError';
}

const MAX_PATH_LENGTH = 256;
const MAX_SEGMENTS = 16;

/** Parse a claim path. Throws `ClaimPathError` with a message naming the problem. */
export function parseClaimPath(path: string): ClaimSegment[] {
  if (typeof path !== 'string' || path.length === 0) throw new ClaimPathError('claim path is empty');
  if (path.length > MAX_PATH_LENGTH) throw new ClaimPathError(`claim path is longer than ${MAX_PATH_LENGTH} characters`);
  const segments: ClaimSegment[] = [];
  let i = 0;
  let expectSegment = true;
  while (i < path.length) {
    const ch = path[i];
    if (ch === '[') {
      const close = findBracketEnd(path, i);
      const inner = path.slice(i + 1, close);
      segments.push(parseBracket(inner, path));
      i = close + 1;
      expectSegment = false;
      if (i < path.length && path[i] !== '.' && path[i] !== '[') {
        throw new ClaimPathError(`unexpected "${path[i]}" after "]" in claim path "${path}"`);
      }
      if (path[i] === '.') {
        i += 1;
        expectSegment = true;
        if (i === path.length) throw new ClaimPathError(`claim path "${path}" ends with "."`);
      }
      continue;
    }
    if (!expectSegment) throw new ClaimPathError(`unexpected "${ch}" in claim path "${path}"`);
    let end = i;
    while (end < path.length && path[end] !== '.' && path[end] !== '[') {
      if (path[end] === ']' || path[end] === '"' || path[end] === "'") {
        throw new ClaimPathError(`unexpected "${path[end]}" in claim path "${path}"`);
      }
      end += 1;
    }
    const name = path.slice(i, end).trim();
    if (name.length === 0) throw new ClaimPathError(`claim path "${path}" has an empty segment`);
    segments.push(name);
    i = end;
    if (path[i] === '.') {
      i += 1;
      if (i === path.length) throw new ClaimPathError(`claim path "${path}" ends with "."`);
      expectSegment = true;
    } else {
      expectSegment = path[i] === '[';
    }
  }
  if (segments.length > MAX_SEGMENTS) throw new ClaimPathError(`claim path "${path}" has more than ${MAX_SEGMENTS} segments`);
  return segments;
}

function findBracketEnd(path: string, open: number): number {
  const quote = path[open + 1];
  if (quote === '"' || quote === "'") {
    const endQuote = path.indexOf(quote, open + 2);
    if (endQuote === -1 || path[endQuote + 1] !== ']') {
      throw new ClaimPathError(`unterminated quoted segment in claim path "${path}"`);
    }
    return endQuote + 1;
  }
  const close = path.indexOf(']', open);
  if (close === -1) throw new ClaimPathError(`missing "]" in claim path "${path}"`);
  return close;
}

function parseBracket(inner: string, path: string): ClaimSegment {
  const q = inner[0];
  if ((q === '"' || q === "'") && inner.length >= 2 && inner[inner.length - 1] === q) {
    const name = inner.slice(1, -1);
    if (name.length === 0) throw new ClaimPathError(`claim path "${path}" has an empty quoted segment`);
    return name;
  }
  if (/^\d{1,6}$/.test(inner)) return Number(inner);
  throw new ClaimPathError(`"[${inner}]" in claim path "${path}" must be an array index or a quoted name`);
}

function step(value: unknown, segment: ClaimSegment): unknown {
  if (typeof segment === 'number') {
    return Array.isArray(value) && segment < value.length ? value[segment] : undefined;
  }
  if (!isRecord(value)) return undefined;
  return Object.hasOwn(value, segment) ? value[segment] : undefined;
}

/** Compile a claim path for repeated resolution. Throws `ClaimPathError`. */
export function compileClaimPath(source: string): CompiledClaimPath {
  const segments = Object.freeze(parseClaimPath(source));
  const verbatim = segments.length > 1 && !source.includes('[') ? source : null;
  const first = segments[0] as ClaimSegment;
  if (segments.length === 1) {
    return {
      source,
      segments,
      resolve: (claims) => step(claims, first),
    };
  }
  return {
    source,
    segments,
    resolve(claims) {
      if (verbatim !== null && Object.hasOwn(claims, verbatim)) return claims[verbatim];
      let value: unknown = claims;
      for (const segment of segments) {
        value = step(value, segment);
        if (value === undefined) return undefined;
      }
      return value;
    },
  };
}
