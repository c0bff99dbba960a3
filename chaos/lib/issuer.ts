import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type IssuerMode = 'ok' | 'down' | 'hang';

interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  jwk: Record<string, unknown>;
}

/** An identity provider on loopback whose JWKS can go down, hang or rotate; ES256 signs fast enough to make thousands of users. */
export class ChaosIssuer {
  mode: IssuerMode = 'ok';
  jwksRequests = 0;
  #key: SigningKey;
  readonly #hanging = new Set<ServerResponse>();

  private constructor(
    private readonly server: Server,
    readonly issuer: string,
    readonly alg: 'ES256' | 'RS256',
  ) {
    this.#key = newKey(alg);
  }

  static async start(alg: 'ES256' | 'RS256' = 'ES256'): Promise<ChaosIssuer> {
    let self: ChaosIssuer | null = null;
    const server = createServer((req, res) => self!.handle(req.url ?? '', res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    self = new ChaosIssuer(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`, alg);
    return self;
  }

  get jwksUrl(): string {
    return `${this.issuer}/jwks`;
  }

  get kid(): string {
    return this.#key.kid;
  }

  /** A new signing key replaces the old one in the JWKS. */
  rotate(): void {
    this.#key = newKey(this.alg);
  }

  token(sub: string, claims: Record<string, unknown> = {}): string {
    const now = Math.floor(Date.now() / 1000);
    const header = Buffer.from(JSON.stringify({ alg: this.alg, kid: this.#key.kid, typ: 'JWT' })).toString('base64url');
    const payload = Buffer.from(
      JSON.stringify({ iss: this.issuer, sub, aud: 'chaos', azp: 'https://app.example', iat: now, exp: now + 3600, ...claims }),
    ).toString('base64url');
    const input = `${header}.${payload}`;
    const signature = sign(
      'sha256',
      Buffer.from(input),
      this.alg === 'ES256' ? { key: this.#key.privateKey, dsaEncoding: 'ieee-p1363' } : this.#key.privateKey,
    );
    return `${input}.${signature.toString('base64url')}`;
  }

  async close(): Promise<void> {
    for (const res of this.#hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(url: string, res: ServerResponse): void {
    if (url === '/.well-known/openid-configuration') {
      json(res, { issuer: this.issuer, jwks_uri: this.jwksUrl });
      return;
    }
    if (url !== '/jwks') {
      res.writeHead(404).end();
      return;
    }
    this.jwksRequests += 1;
    if (this.mode === 'down') res.writeHead(503).end('down');
    else if (this.mode === 'hang') this.#hanging.add(res);
    else json(res, { keys: [this.#key.jwk] });
  }
}

function newKey(alg: 'ES256' | 'RS256'): SigningKey {
  const kid = randomBytes(6).toString('hex');
  const { privateKey, publicKey } = alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid, privateKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' } };
}

function json(res: ServerResponse, body: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
