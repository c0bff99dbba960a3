import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TestIssuer {
  /** `http://127.0.0.1:PORT` — also the `iss` of the tokens it signs. */
  issuer: string;
  jwksUrl: string;
  kid: string;
  publicKeyPem: string;
  /** Requests the JWKS endpoint has answered (or refused). */
  jwksRequests: number;
  /** 'ok' serves the keys; 'down' answers 500; 'hang' never answers. */
  mode: 'ok' | 'down' | 'hang';
  sign(claims: Record<string, unknown>, header?: Record<string, unknown>): string;
  /** Signs a payload given as raw JSON text, for numbers JSON.stringify cannot write (1e400). */
  signText(payloadJson: string, header?: Record<string, unknown>): string;
  /** A Clerk-like session token for the user, valid for a minute. */
  sessionToken(userId: string, claims?: Record<string, unknown>): string;
  close(): Promise<void>;
}

/** A local OIDC-style issuer: an RSA key pair, its JWKS over real HTTP on loopback, and a signer. */
export async function startTestIssuer(): Promise<TestIssuer> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = 'ins_test_key_1';
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
  const hanging = new Set<import('node:http').ServerResponse>();
  const state = { jwksRequests: 0, mode: 'ok' as TestIssuer['mode'] };
  const server: Server = createServer((req, res) => {
    if (req.url === '/.well-known/jwks.json') {
      state.jwksRequests += 1;
      if (state.mode === 'down') {
        res.writeHead(500).end('down');
        return;
      }
      if (state.mode === 'hang') {
        hanging.add(res);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const signWith = (key: KeyObject, payloadJson: string, header: Record<string, unknown>) => {
    const h = Buffer.from(JSON.stringify({ alg: 'RS256', kid, typ: 'JWT', ...header })).toString('base64url');
    const p = Buffer.from(payloadJson).toString('base64url');
    return `${h}.${p}.${sign('sha256', Buffer.from(`${h}.${p}`), key).toString('base64url')}`;
  };
  const signClaims = (claims: Record<string, unknown>, header: Record<string, unknown> = {}) => signWith(privateKey, JSON.stringify(claims), header);
  return {
    issuer,
    jwksUrl: `${issuer}/.well-known/jwks.json`,
    kid,
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    get jwksRequests() {
      return state.jwksRequests;
    },
    get mode() {
      return state.mode;
    },
    set mode(m) {
      state.mode = m;
    },
    sign: signClaims,
    signText: (payloadJson, header = {}) => signWith(privateKey, payloadJson, header),
    sessionToken(userId, claims = {}) {
      const now = Math.floor(Date.now() / 1000);
      return signClaims({ azp: 'https://app.example.com', exp: now + 60, iat: now, iss: issuer, nbf: now, sid: 'sess_test', sub: userId, ...claims });
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
