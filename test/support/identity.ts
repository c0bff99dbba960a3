import { generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AsymmetricAlgorithm, IssuerOptions, KeySetTiming, Logger } from '../../src/identity/types.js';

/** A fixed instant so no test depends on the wall clock. */
export const NOW_MS = 1_750_000_000_000;
export const NOW_S = NOW_MS / 1000;

export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export function rsaKeyPair(modulusLength = 2048): KeyPair {
  return generateKeyPairSync('rsa', { modulusLength });
}

export function ecKeyPair(namedCurve: 'P-256' | 'P-384' | 'P-521' = 'P-256'): KeyPair {
  return generateKeyPairSync('ec', { namedCurve });
}

export function ed25519KeyPair(): KeyPair {
  return generateKeyPairSync('ed25519');
}

/** Public JWK with extra members (kid, alg, use). */
export function publicJwk(key: KeyObject, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...key.export({ format: 'jwk' }), ...extra };
}

export function b64u(value: string | Uint8Array): string {
  return (typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value)).toString('base64url');
}

/** Encodes a JSON value, or a raw string taken as the exact JSON text. */
export function segment(value: unknown): string {
  return b64u(typeof value === 'string' ? value : JSON.stringify(value));
}

/** Produces a JWS signature over `signingInput` for an asymmetric `alg`. */
export function signature(alg: AsymmetricAlgorithm, privateKey: KeyObject, signingInput: string): Buffer {
  const data = Buffer.from(signingInput, 'ascii');
  const digest = alg === 'EdDSA' || alg === 'Ed25519' ? null : alg.endsWith('384') ? 'sha384' : alg.endsWith('512') ? 'sha512' : 'sha256';
  if (alg.startsWith('PS')) {
    return cryptoSign(digest, data, { key: privateKey, padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: -1 /* RSA_PSS_SALTLEN_DIGEST */ });
  }
  if (alg.startsWith('ES')) return cryptoSign(digest, data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return cryptoSign(digest, data, privateKey);
}

/**
 * Signs `header` and `payload` (objects, or strings used verbatim as JSON
 * text) with `privateKey` under `signAs`, which may differ from header.alg.
 */
export function signToken(
  header: unknown,
  payload: unknown,
  privateKey: KeyObject,
  signAs: AsymmetricAlgorithm = (header as { alg?: AsymmetricAlgorithm }).alg ?? 'RS256',
): string {
  const signingInput = `${segment(header)}.${segment(payload)}`;
  return `${signingInput}.${b64u(signature(signAs, privateKey, signingInput))}`;
}

/**
 * A trusted issuer's options: a Clerk issuer allowing RS256, with no authorized parties, no
 * impersonation and the user id in `sub`. Its keys (`jwksUri` or `staticKeys`) come from `overrides`.
 */
export function issuerOptions(overrides: Partial<IssuerOptions> = {}): IssuerOptions {
  return {
    kind: 'clerk',
    issuer: 'https://issuer.example.test',
    algorithms: ['RS256'],
    userIdClaim: 'sub',
    authorizedParties: [],
    requireAuthorizedParty: false,
    allowImpersonation: false,
    ...overrides,
  };
}

export function defaultTiming(overrides: Partial<KeySetTiming> = {}): KeySetTiming {
  return { cacheTtlSeconds: 600, cooldownSeconds: 30, maxStaleSeconds: 3600, fetchTimeoutMs: 2000, ...overrides };
}

/** A mutable clock: tests move time instead of sleeping. */
export class TestClock {
  constructor(public ms = NOW_MS) {}
  readonly now = (): number => this.ms;
  advanceSeconds(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

export interface LogEntry {
  level: 'info' | 'warn' | 'error';
  obj: object;
  msg: string | undefined;
}

export function recordingLogger(): Logger & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  return {
    entries,
    info: (obj, msg) => void entries.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => void entries.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => void entries.push({ level: 'error', obj, msg }),
  };
}

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A real HTTP server on 127.0.0.1 whose behaviour tests can swap, counting requests per path. */
export class TestServer {
  readonly requests: string[] = [];
  handler: Handler;
  private server: Server | null = null;
  private port = 0;

  constructor(handler: Handler = (_req, res) => sendJson(res, 404, {})) {
    this.handler = handler;
  }

  async listen(): Promise<this> {
    const server = createServer((req, res) => {
      this.requests.push(req.url ?? '');
      this.handler(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  url(path: string): string {
    return `${this.origin}${path}`;
  }

  count(path: string): number {
    return this.requests.filter((url) => url === path).length;
  }

  /** Serves `document` as JSON at every path. */
  serveJson(document: unknown, status = 200): void {
    this.handler = (_req, res) => sendJson(res, status, document);
  }

  async close(): Promise<void> {
    const server = this.server;
    if (server === null) return;
    this.server = null;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

export function sendJson(res: ServerResponse, status: number, document: unknown): void {
  const body = JSON.stringify(document);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** A `fetch` that answers from memory and counts calls, for tests that need no sockets. */
export function memoryFetch(respond: (url: string) => Response | Promise<Response>): typeof fetch & { calls: string[] } {
  const calls: string[] = [];
  const impl = (async (input: string | URL | Request) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    calls.push(url);
    return respond(url);
  }) as typeof fetch & { calls: string[] };
  impl.calls = calls;
  return impl;
}

export function jsonResponse(document: unknown, status = 200): Response {
  return new Response(JSON.stringify(document), { status, headers: { 'content-type': 'application/json' } });
}
