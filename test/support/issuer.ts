import type { ServerResponse } from 'node:http';
import { publicJwk, rsaKeyPair, sendJson, signToken, TestServer } from './identity.js';

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

const JWKS_PATH = '/.well-known/jwks.json';

/** A local OIDC-style issuer: an RSA key pair, its JWKS over real HTTP on loopback, and a signer. */
export async function startTestIssuer(): Promise<TestIssuer> {
  const { privateKey, publicKey } = rsaKeyPair();
  const kid = 'ins_test_key_1';
  const jwk = publicJwk(publicKey, { kid, alg: 'RS256', use: 'sig' });
  const hanging = new Set<ServerResponse>();
  let mode: TestIssuer['mode'] = 'ok';
  const server = await new TestServer((req, res) => {
    if (req.url !== JWKS_PATH) sendJson(res, 404, {});
    else if (mode === 'down') res.writeHead(500).end('down');
    else if (mode === 'hang') hanging.add(res);
    else sendJson(res, 200, { keys: [jwk] });
  }).listen();
  const issuer = server.origin;
  // RS256 whatever the header says: tests forge headers, never signatures.
  const signText = (payloadJson: string, header: Record<string, unknown> = {}) =>
    signToken({ alg: 'RS256', kid, typ: 'JWT', ...header }, payloadJson, privateKey, 'RS256');
  const sign = (claims: Record<string, unknown>, header: Record<string, unknown> = {}) => signText(JSON.stringify(claims), header);
  return {
    issuer,
    jwksUrl: server.url(JWKS_PATH),
    kid,
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    get jwksRequests() {
      return server.count(JWKS_PATH);
    },
    get mode() {
      return mode;
    },
    set mode(m) {
      mode = m;
    },
    sign,
    signText,
    sessionToken(userId, claims = {}) {
      const now = Math.floor(Date.now() / 1000);
      return sign({ azp: 'https://app.example.com', exp: now + 60, iat: now, iss: issuer, nbf: now, sid: 'sess_test', sub: userId, ...claims });
    },
    async close() {
      for (const res of hanging) res.destroy();
      await server.close();
    },
  };
}
