import { createHash, generateKeyPairSync, randomBytes, type JsonWebKey, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';
import Provider, { type AdapterFactory, type AdapterPayload, type ClientMetadata, type Configuration } from 'oidc-provider';

/** Algorithms the provider signs with, one generated key each (oidc-provider 8 names Ed25519 only EdDSA). */
export const PROVIDER_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const;
export type ProviderAlgorithm = (typeof PROVIDER_ALGORITHMS)[number];
/** Each app is registered once per algorithm, since a client's ID tokens all use one algorithm. */
export type ProviderApp = 'web' | 'other';
/** The scope a resource server grants; every resource indicator is a resource server. */
export const RESOURCE_SCOPE = 'chat';

const APPS: readonly ProviderApp[] = ['web', 'other'];
const CLIENT_SECRET = 'oidc-test-client-secret-0123456789abcdef';
/** Registered but never contacted: the flow stops at the redirect that carries the code. */
const REDIRECT_URI = 'http://127.0.0.1/callback';
const TOKEN_TTL_SECONDS = 300;

export interface SignInOptions {
  alg?: ProviderAlgorithm;
  app?: ProviderApp;
  /** Ask for an access token for this resource (RFC 8707) beside the ID token. */
  resource?: string;
}

export interface OidcTestProvider {
  /** `http://127.0.0.1:PORT`, the `iss` of every token and the discovery document's `issuer`. */
  readonly issuer: string;
  /** Requests the JWKS endpoint has answered. */
  readonly jwksRequests: number;
  /** The client id of `app` registered for `alg`: the `aud` of its ID tokens. */
  clientId(alg?: ProviderAlgorithm, app?: ProviderApp): string;
  /** The `kid` of the key the provider now signs `alg` with. */
  kid(alg: ProviderAlgorithm): string;
  /** Signs the account in through the authorization code flow and redeems the code. */
  signIn(accountId: string, options?: SignInOptions): Promise<{ idToken: string; accessToken?: string; clientId: string }>;
  /** An RFC 9068 JWT access token for `resource` from the client credentials grant. */
  clientCredentials(options: { resource: string; alg?: ProviderAlgorithm; app?: ProviderApp }): Promise<{ accessToken: string; clientId: string }>;
  /** Any claims, signed outside the provider with its current key for `alg`, under `kid` (that key's own by default). */
  forge(claims: Record<string, unknown>, alg?: ProviderAlgorithm, kid?: string): Promise<string>;
  /** Replaces every signing key: new tokens carry new kids and the JWKS lists only the new keys. */
  rotateKeys(): void;
  close(): Promise<void>;
}

interface SigningKey {
  alg: ProviderAlgorithm;
  kid: string;
  privateKey: KeyObject;
  jwk: JsonWebKey;
}

function generateKey(alg: ProviderAlgorithm, kid: string): SigningKey {
  const { privateKey } =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'EdDSA'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { alg, kid, privateKey, jwk: { ...privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' } };
}

function clientIdFor(alg: ProviderAlgorithm = 'RS256', app: ProviderApp = 'web'): string {
  return `${app}-${alg.toLowerCase()}`;
}

function algorithmOf(clientId: string): ProviderAlgorithm {
  const alg = PROVIDER_ALGORITHMS.find((candidate) => clientId.endsWith(`-${candidate.toLowerCase()}`));
  if (alg === undefined) throw new Error(`no algorithm for client ${clientId}`);
  return alg;
}

/** The provider's default store prints a warning at every start; this one is as small and stays quiet. */
function memoryAdapter(): AdapterFactory {
  const store = new Map<string, AdapterPayload>();
  const sessionsByUid = new Map<string, string>();
  return (model) => {
    const key = (id: string) => `${model}:${id}`;
    return {
      async upsert(id, payload) {
        store.set(key(id), payload);
        if (model === 'Session' && payload.uid !== undefined) sessionsByUid.set(payload.uid, id);
      },
      async find(id) {
        return store.get(key(id));
      },
      async findByUid(uid) {
        const id = sessionsByUid.get(uid);
        return id === undefined ? undefined : store.get(key(id));
      },
      async findByUserCode() {
        return undefined;
      },
      async consume(id) {
        const payload = store.get(key(id));
        if (payload !== undefined) payload.consumed = Math.floor(Date.now() / 1000);
      },
      async destroy(id) {
        store.delete(key(id));
      },
      async revokeByGrantId(grantId) {
        for (const [k, payload] of store) if (payload.grantId === grantId) store.delete(k);
      },
    };
  };
}

function configuration(keys: readonly SigningKey[], adapter: AdapterFactory): Configuration {
  const clients: ClientMetadata[] = APPS.flatMap((app) =>
    PROVIDER_ALGORITHMS.map((alg) => ({
      client_id: clientIdFor(alg, app),
      client_secret: CLIENT_SECRET,
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'client_credentials'],
      response_types: ['code'],
      id_token_signed_response_alg: alg,
    })),
  );
  return {
    adapter,
    clients,
    jwks: { keys: keys.map((key) => key.jwk) },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // Access tokens for a resource are RFC 9068 JWTs, signed with the algorithm of the client's ID tokens.
        getResourceServerInfo: (_ctx, resource, client) => ({
          scope: RESOURCE_SCOPE,
          audience: resource,
          accessTokenFormat: 'jwt',
          accessTokenTTL: TOKEN_TTL_SECONDS,
          jwt: { sign: { alg: algorithmOf(client.clientId) } },
        }),
      },
    },
    ttl: {
      AccessToken: TOKEN_TTL_SECONDS,
      AuthorizationCode: 60,
      ClientCredentials: TOKEN_TTL_SECONDS,
      Grant: TOKEN_TTL_SECONDS,
      IdToken: TOKEN_TTL_SECONDS,
      Interaction: TOKEN_TTL_SECONDS,
      Session: TOKEN_TTL_SECONDS,
    },
  };
}

/**
 * The sign-in screens, answered at once: the login prompt signs in the
 * account named by `login_hint`; the consent prompt grants whatever scopes and
 * resources the request is missing.
 */
async function interact(provider: Provider, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { prompt, params, session, grantId } = await provider.interactionDetails(req, res);
  if (prompt.name === 'login') {
    await provider.interactionFinished(req, res, { login: { accountId: String(params['login_hint']) } }, { mergeWithLastSubmission: false });
    return;
  }
  const grant =
    (grantId !== undefined ? await provider.Grant.find(grantId) : undefined) ??
    new provider.Grant({ accountId: session!.accountId, clientId: String(params['client_id']) });
  const details = prompt.details as { missingOIDCScope?: string[]; missingResourceScopes?: Record<string, string[]> };
  if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
  for (const [resource, scopes] of Object.entries(details.missingResourceScopes ?? {})) grant.addResourceScope(resource, scopes.join(' '));
  await provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
}

/** The few cookie rules the flow needs: per name and path, dropped when cleared. */
class CookieJar {
  private readonly cookies = new Map<string, { name: string; value: string; path: string }>();

  store(setCookies: readonly string[]): void {
    for (const line of setCookies) {
      const [pair = '', ...attributes] = line.split(';').map((part) => part.trim());
      const name = pair.slice(0, pair.indexOf('='));
      const value = pair.slice(pair.indexOf('=') + 1);
      const attribute = (prefix: string) => attributes.find((a) => a.toLowerCase().startsWith(prefix))?.slice(prefix.length);
      const path = attribute('path=') ?? '/';
      const expires = attribute('expires=');
      if (value === '' || (expires !== undefined && Date.parse(expires) <= Date.now())) this.cookies.delete(`${name};${path}`);
      else this.cookies.set(`${name};${path}`, { name, value, path });
    }
  }

  header(url: URL): string {
    const matches = (path: string) => url.pathname === path || url.pathname.startsWith(path.endsWith('/') ? path : `${path}/`);
    return [...this.cookies.values()]
      .filter((c) => matches(c.path))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }
}

/** Starts an OpenID Provider on 127.0.0.1 with a random port and freshly generated keys. */
export async function startOidcProvider(): Promise<OidcTestProvider> {
  const tag = randomBytes(3).toString('hex');
  const adapter = memoryAdapter();
  let generation = 0;
  let keys: SigningKey[] = [];
  let provider: Provider | undefined;
  let handle: ((req: IncomingMessage, res: ServerResponse) => unknown) | undefined;
  let lastServerError: Error | undefined;
  let jwksRequests = 0;

  const server = createServer((req, res) => {
    if (req.url === '/jwks') jwksRequests += 1;
    if (req.url?.startsWith('/interaction/')) {
      interact(provider!, req, res).catch((error: unknown) => res.writeHead(500).end(String(error)));
    } else {
      void handle!(req, res);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const rotateKeys = (): void => {
    generation += 1;
    keys = PROVIDER_ALGORITHMS.map((alg) => generateKey(alg, `${tag}-${alg.toLowerCase()}-${generation}`));
    // The provider reads its keys once, so a rotation is a new provider behind the same address.
    const next = new Provider(issuer, configuration(keys, adapter));
    next.on('server_error', (_ctx, error) => {
      lastServerError = error;
    });
    provider = next;
    handle = next.callback();
  };
  rotateKeys();

  const keyFor = (alg: ProviderAlgorithm): SigningKey => keys.find((key) => key.alg === alg)!;

  const tokenRequest = async (clientId: string, form: Record<string, string>): Promise<Record<string, unknown>> => {
    lastServerError = undefined;
    const res = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${clientId}:${CLIENT_SECRET}`).toString('base64')}` },
      body: new URLSearchParams(form),
    });
    const body = (await res.json()) as Record<string, unknown>;
    if (!res.ok) throw new Error(`token endpoint answered ${res.status}: ${JSON.stringify(body)} ${(lastServerError as Error | undefined)?.message ?? ''}`);
    return body;
  };

  /** Follows the authorization request's redirects, with their cookies, to the code. */
  const authorize = async (query: URLSearchParams): Promise<string> => {
    const jar = new CookieJar();
    let url = new URL(`${issuer}/auth?${query}`);
    for (let hop = 0; hop < 10; hop++) {
      lastServerError = undefined;
      const res = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header(url) } });
      jar.store(res.headers.getSetCookie());
      const location = res.headers.get('location');
      if (location === null)
        throw new Error(
          `authorization stopped at ${url.pathname} with ${res.status}: ${await res.text()} ${(lastServerError as Error | undefined)?.message ?? ''}`,
        );
      await res.body?.cancel();
      url = new URL(location, url);
      if (url.href.startsWith(REDIRECT_URI)) {
        const code = url.searchParams.get('code');
        if (code === null) throw new Error(`authorization failed: ${url.search}`);
        return code;
      }
    }
    throw new Error('authorization did not reach the redirect URI');
  };

  return {
    issuer,
    get jwksRequests() {
      return jwksRequests;
    },
    clientId: clientIdFor,
    kid: (alg) => keyFor(alg).kid,

    async signIn(accountId, { alg = 'RS256', app = 'web', resource } = {}) {
      const clientId = clientIdFor(alg, app);
      const verifier = randomBytes(32).toString('base64url');
      const code = await authorize(
        new URLSearchParams({
          client_id: clientId,
          response_type: 'code',
          redirect_uri: REDIRECT_URI,
          scope: resource === undefined ? 'openid' : `openid ${RESOURCE_SCOPE}`,
          login_hint: accountId,
          state: randomBytes(8).toString('hex'),
          nonce: randomBytes(8).toString('hex'),
          code_challenge: createHash('sha256').update(verifier).digest('base64url'),
          code_challenge_method: 'S256',
          ...(resource === undefined ? {} : { resource }),
        }),
      );
      const tokens = await tokenRequest(clientId, {
        grant_type: 'authorization_code',
        code,
        redirect_uri: REDIRECT_URI,
        code_verifier: verifier,
        ...(resource === undefined ? {} : { resource }),
      });
      const idToken = tokens['id_token'] as string;
      return resource === undefined ? { idToken, clientId } : { idToken, accessToken: tokens['access_token'] as string, clientId };
    },

    async clientCredentials({ resource, alg = 'RS256', app = 'web' }) {
      const clientId = clientIdFor(alg, app);
      const tokens = await tokenRequest(clientId, { grant_type: 'client_credentials', resource, scope: RESOURCE_SCOPE });
      return { accessToken: tokens['access_token'] as string, clientId };
    },

    forge(claims, alg = 'RS256', kid = keyFor(alg).kid) {
      return new SignJWT(claims).setProtectedHeader({ alg, kid, typ: 'JWT' }).sign(keyFor(alg).privateKey);
    },

    rotateKeys,

    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
