import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A stand-in identity provider: one RSA key, its JWKS over HTTP on loopback. */
export interface BenchIssuer {
  /** `http://127.0.0.1:PORT`, also the `iss` of every session token. */
  issuer: string;
  jwksUrl: string;
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** PKCS#8 PEM, handed to signing workers. */
  privateKeyPem: string;
  /** Times the JWKS endpoint was fetched. */
  jwksRequests(): number;
  close(): Promise<void>;
}

/** The origin session tokens name in `azp`, as a browser app's tokens do. */
export const AUTHORIZED_PARTY = 'https://app.example.com';

export interface BenchIssuerOptions {
  /** Listen here (so `iss` stays the same from run to run); a random free port when absent or taken. */
  port?: number;
  /** Reuse this signing key (PKCS#8 PEM) instead of generating one. */
  privateKeyPem?: string;
}

export async function startBenchIssuer(options: BenchIssuerOptions = {}): Promise<BenchIssuer> {
  const privateKey =
    options.privateKeyPem !== undefined ? createPrivateKey(options.privateKeyPem) : generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const publicKey = createPublicKey(privateKey);
  const kid = 'ins_bench_signing_key_1';
  const body = JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' }] });
  let requests = 0;
  const server: Server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/.well-known/jwks.json') {
      requests += 1;
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=600' }).end(body);
      return;
    }
    res.writeHead(404).end();
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  try {
    await listen(options.port ?? 0);
  } catch {
    await listen(0);
  }
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    jwksUrl: `${issuer}/.well-known/jwks.json`,
    kid,
    privateKey,
    publicKey,
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    jwksRequests: () => requests,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
