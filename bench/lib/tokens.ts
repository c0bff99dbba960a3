import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';
import { AUTHORIZED_PARTY, startBenchIssuer, type BenchIssuer } from './issuer.js';

/**
 * Session tokens shaped like Clerk's (v2 claims, RS256, `kid`, `typ: JWT`),
 * one per distinct user, all signed before any timing starts.
 */
export interface SessionTokenSet {
  tokens: string[];
  userIds: string[];
  /** `exp` of every token, seconds since the epoch. */
  expiresAt: number;
}

/** User `i` of the bench, shaped like a Clerk user id. */
export function benchUserId(i: number): string {
  return `user_2bench${String(i).padStart(21, '0')}`;
}

// Plain JavaScript so the worker needs no TypeScript loader.
const SIGNING_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { createPrivateKey, sign } = require('node:crypto');
const { pem, header, claims, first, count } = workerData;
const key = createPrivateKey(pem);
const headerSegment = Buffer.from(JSON.stringify(header)).toString('base64url');
const userId = (i) => 'user_2bench' + String(i).padStart(21, '0');
const tokens = new Array(count);
for (let j = 0; j < count; j++) {
  const i = first + j;
  const payload = { azp: claims.azp, exp: claims.exp, fva: [0, -1], iat: claims.iat, iss: claims.iss, nbf: claims.nbf,
    sid: 'sess_2bench' + String(i).padStart(21, '0'), sts: 'active', sub: userId(i), v: 2 };
  const input = headerSegment + '.' + Buffer.from(JSON.stringify(payload)).toString('base64url');
  tokens[j] = input + '.' + sign('sha256', Buffer.from(input), key).toString('base64url');
}
parentPort.postMessage(tokens);
`;

export interface TokenOptions {
  /** Index of the first user. */
  first: number;
  count: number;
  /** Seconds the tokens stay valid; far longer than any run. */
  ttlSeconds: number;
  threads?: number;
}

/** Signs `count` session tokens for users `first … first+count-1`, spread over worker threads. */
export async function signSessionTokens(issuer: BenchIssuer, options: TokenOptions): Promise<SessionTokenSet> {
  const now = Math.floor(Date.now() / 1000);
  const claims = { azp: AUTHORIZED_PARTY, exp: now + options.ttlSeconds, iat: now - 5, iss: issuer.issuer, nbf: now - 15 };
  const header = { alg: 'RS256', kid: issuer.kid, typ: 'JWT' };
  const threads = Math.max(1, Math.min(options.threads ?? availableParallelism(), Math.ceil(options.count / 500)));
  const per = Math.ceil(options.count / threads);
  const parts = await Promise.all(
    Array.from({ length: threads }, (_, t) => {
      const first = options.first + t * per;
      const count = Math.max(0, Math.min(per, options.first + options.count - first));
      if (count === 0) return Promise.resolve<string[]>([]);
      return new Promise<string[]>((resolve, reject) => {
        const worker = new Worker(SIGNING_WORKER, {
          eval: true,
          execArgv: [],
          workerData: { pem: issuer.privateKeyPem, header, claims, first, count },
        });
        worker.once('message', (tokens: string[]) => resolve(tokens));
        worker.once('error', reject);
        worker.once('exit', (code) => {
          if (code !== 0) reject(new Error(`token signing worker exited with ${code}`));
        });
      });
    }),
  );
  const tokens = parts.flat();
  const userIds = tokens.map((_, j) => benchUserId(options.first + j));
  return { tokens, userIds, expiresAt: claims.exp };
}

const CACHE_VERSION = 1;

interface TokenCache {
  version: number;
  issuer: string;
  port: number;
  privateKeyPem: string;
  /** The earliest `exp` of any token in the file. */
  expiresAt: number;
  signedAt: string;
  tokens: string[];
}

export interface TokenPoolOptions {
  count: number;
  /** Port the issuer listens on, so `iss` is stable and signed tokens can be reused by the next run. */
  port: number;
  /** Where signed tokens are kept between runs; null signs afresh and keeps nothing. */
  cacheFile: string | null;
  /** Lifetime of newly signed tokens. */
  ttlSeconds: number;
  /** Cached tokens are reused only while they stay valid at least this long. */
  minValiditySeconds: number;
}

export interface TokenPool extends SessionTokenSet {
  issuer: BenchIssuer;
  /** Tokens taken from the cache rather than signed in this run. */
  reused: number;
  signed: number;
  signingSeconds: number;
}

function readCache(file: string): TokenCache | null {
  try {
    const cache = JSON.parse(readFileSync(file, 'utf8')) as TokenCache;
    return cache.version === CACHE_VERSION && Array.isArray(cache.tokens) ? cache : null;
  } catch {
    return null;
  }
}

/**
 * The local issuer and `count` users' session tokens. Signing 100,000 RS256
 * tokens takes about a minute on two cores, so tokens are kept in a file
 * under the system temporary directory and reused while the issuer's key,
 * its URL (`iss`) and their validity allow; only missing ones are signed.
 */
export async function sessionTokenPool(options: TokenPoolOptions): Promise<TokenPool> {
  const now = Math.floor(Date.now() / 1000);
  const cache = options.cacheFile !== null ? readCache(options.cacheFile) : null;
  if (cache !== null && cache.expiresAt - now >= options.minValiditySeconds) {
    const issuer = await startBenchIssuer({ port: cache.port, privateKeyPem: cache.privateKeyPem });
    if (issuer.issuer === cache.issuer) {
      const reused = cache.tokens.slice(0, options.count);
      const began = Date.now();
      let extra: SessionTokenSet | null = null;
      if (reused.length < options.count) {
        extra = await signSessionTokens(issuer, { first: reused.length, count: options.count - reused.length, ttlSeconds: options.ttlSeconds });
        cache.tokens.push(...extra.tokens);
        writeCache(options.cacheFile!, cache);
      }
      const tokens = extra === null ? reused : [...reused, ...extra.tokens];
      return {
        issuer,
        tokens,
        userIds: tokens.map((_, i) => benchUserId(i)),
        expiresAt: Math.min(cache.expiresAt, extra?.expiresAt ?? Infinity),
        reused: reused.length,
        signed: extra?.tokens.length ?? 0,
        signingSeconds: (Date.now() - began) / 1000,
      };
    }
    await issuer.close();
  }
  const issuer = await startBenchIssuer({ port: options.port });
  const began = Date.now();
  const set = await signSessionTokens(issuer, { first: 0, count: options.count, ttlSeconds: options.ttlSeconds });
  const signingSeconds = (Date.now() - began) / 1000;
  if (options.cacheFile !== null) {
    writeCache(options.cacheFile, {
      version: CACHE_VERSION,
      issuer: issuer.issuer,
      port: Number(new URL(issuer.issuer).port),
      privateKeyPem: issuer.privateKeyPem,
      expiresAt: set.expiresAt,
      signedAt: new Date().toISOString(),
      tokens: set.tokens,
    });
  }
  return { issuer, ...set, reused: 0, signed: set.tokens.length, signingSeconds };
}

function writeCache(file: string, cache: TokenCache): void {
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(`${file}.tmp`, JSON.stringify(cache), { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  } catch {
    // A cache that cannot be written only costs the next run its signing time.
  }
}
