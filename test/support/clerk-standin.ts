/**
 * A local stand-in for Clerk's Backend API (BAPI) and for the JWKS its Frontend
 * API publishes, good enough for the official `@clerk/backend` client:
 *
 *   const clerk = await startClerkStandIn({ secretKey: 'sk_test_x', users: [{ id: 'user_1' }] });
 *   const client = createClerkClient({ secretKey: 'sk_test_x', apiUrl: clerk.apiUrl });
 *   const session = await client.sessions.createSession({ userId: 'user_1' });
 *   const { jwt } = await client.sessions.getToken(session.id);
 *
 * Protocol, as the SDK speaks it (@clerk/backend dist `buildRequest`):
 * `apiUrl` + `/v1` + path, `Authorization: Bearer <secret key>`,
 * `Clerk-API-Version`, JSON bodies with snake_case keys. A response is read as
 * JSON only when `Content-Type` is exactly `application/json`; errors are
 * `{errors: [{code, message, long_message, meta}], clerk_trace_id}` and become a
 * `ClerkAPIResponseError` with `status`, `errors` and `retryAfter` (from the
 * `Retry-After` header). `verifyToken({secretKey, apiUrl})` loads keys from
 * `GET /v1/jwks`; the Frontend API serves the same keys at
 * `/.well-known/jwks.json`, which is where `CLERK_JWKS_URL` points.
 *
 * Session tokens look like Clerk's v2 session tokens: RS256, header
 * `{alg, cat: 'cl_B7d4PD111AAA', kid, typ: 'JWT'}`, claims `azp, exp, fea?, fva,
 * iat, iss, jti, nbf, o?, pla?, sid, sts?, sub, v: 2` (and `act` for an
 * impersonated session), a 60 s lifetime and `nbf` 10 s before `iat`.
 */
import { generateKeyPairSync, randomBytes, randomUUID, sign, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { closeServer, injectedFailureReason, listen, readRequest, takeFailure, type InjectedFailure, type RecordedRequest } from './http-standin.js';

/** Seed data for a user; anything else given is copied into the user JSON as is. */
export interface ClerkStandInUser {
  id: string;
  first_name?: string | null;
  last_name?: string | null;
  username?: string | null;
  /** Becomes the user's primary, verified email address. */
  email_address?: string;
  image_url?: string;
  external_id?: string | null;
  public_metadata?: Record<string, unknown>;
  private_metadata?: Record<string, unknown>;
  unsafe_metadata?: Record<string, unknown>;
  banned?: boolean;
  locked?: boolean;
  [field: string]: unknown;
}

/** The active organization of a session, as it ends up in the `o` claim. */
export interface ClerkActiveOrganization {
  id: string;
  slug: string;
  /** Role key without the `org:` prefix, e.g. `admin`. */
  role: string;
  permissions?: string[];
  features?: string[];
}

export interface ClerkStandInOptions {
  secretKey: string;
  /** `iss` of minted tokens; defaults to the stand-in's own base URL (which serves `/.well-known/jwks.json`). */
  issuer?: string;
  users?: ClerkStandInUser[];
  /** `azp` of minted tokens (the app's origin); `null` leaves the claim out. Default `http://localhost:3000`. */
  authorizedParty?: string | null;
  /** Session token lifetime in seconds (default 60, Clerk's). */
  tokenLifetimeSeconds?: number;
  /** JWT templates by name: extra claims for `POST /v1/sessions/{id}/tokens/{template}`. */
  templates?: Record<string, Record<string, unknown>>;
  host?: string;
  port?: number;
}

export interface ClerkRecordedCall extends RecordedRequest {
  /** True when the request carried the configured secret key. */
  authenticated: boolean;
  /** `secret_key` when an `Authorization: Bearer …` header was sent (right or wrong), `none` otherwise. */
  authKind: 'secret_key' | 'none';
}

/** Fault injection for BAPI and JWKS requests; see {@link InjectedFailure}. */
export type ClerkFailure = InjectedFailure;

export interface MintOptions {
  /** `kid` header to put in the token (the key used to sign stays the current one). */
  kid?: string;
  /** Lifetime (default: the configured token lifetime, 60 s). Negative values mint an already-expired token. */
  expiresInSeconds?: number;
  /** `iat` in seconds since the epoch (default now). */
  issuedAt?: number;
  /** `sid` (default: a new session id). */
  sessionId?: string;
  /** Header fields to add or (with `undefined`) remove, e.g. `{ alg: 'RS512' }` or `{ cat: undefined }`. */
  header?: Record<string, unknown>;
  /** Sign with a key that is not in the JWKS (the `kid` still names the current key), for bad-signature tests. */
  foreignKey?: boolean;
}

export interface ClerkStandIn {
  /** Base URL for `createClerkClient({ apiUrl })`; the BAPI lives under `/v1`. */
  apiUrl: string;
  /** `${apiUrl}/.well-known/jwks.json`, the public JWKS (what `CLERK_JWKS_URL` points to). */
  jwksUrl: string;
  /** `iss` of the tokens it mints. */
  issuer: string;
  /** `kid` of the current signing key. */
  readonly kid: string;
  calls: ClerkRecordedCall[];
  /** Users as Clerk's BAPI returns them (snake_case JSON), by id. */
  users: Map<string, Record<string, unknown>>;
  /** Sessions as Clerk's BAPI returns them, by id. */
  sessions: Map<string, Record<string, unknown>>;
  failure: null | ClerkFailure;
  addUser(user: ClerkStandInUser): Record<string, unknown>;
  /** Creates a session directly (no HTTP), e.g. a pending one or one with an active organization. */
  createSession(
    userId: string,
    options?: { status?: 'active' | 'pending'; organization?: ClerkActiveOrganization; actor?: Record<string, unknown> },
  ): Record<string, unknown>;
  /**
   * Mints a session token for `userId` (which need not be a known user). `extraClaims` are merged
   * over the defaults; a claim set to `undefined` is removed.
   */
  mintSessionToken(userId: string, extraClaims?: Record<string, unknown>, options?: MintOptions): string;
  /** The public JWKS currently served. */
  jwks(): { keys: Array<Record<string, unknown>> };
  /** Generates a new signing key and returns its `kid`. The old key leaves the JWKS unless `keepPrevious`. */
  rotateKey(options?: { keepPrevious?: boolean }): string;
  /** Forgets calls, sessions and failures and restores the seeded users; keys stay. */
  reset(): void;
  close(): Promise<void>;
}

const SESSION_TOKEN_CATEGORY = 'cl_B7d4PD111AAA';
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function clerkId(prefix: string): string {
  const bytes = randomBytes(27);
  let id = '';
  for (const byte of bytes) id += BASE62[byte % 62];
  return `${prefix}_${id}`;
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function sortKeys(obj: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obj).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Merges `overrides` into `base`; an own property set to `undefined` removes the key. */
function merge(base: Record<string, unknown>, overrides: Record<string, unknown> | undefined): Record<string, unknown> {
  const result = { ...base };
  for (const [key, value] of Object.entries(overrides ?? {})) {
    if (value === undefined) delete result[key];
    else result[key] = value;
  }
  return result;
}

interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicJwk: Record<string, unknown>;
}

function newSigningKey(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = clerkId('ins');
  const jwk = publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
  return { kid, privateKey, publicJwk: { use: 'sig', kty: 'RSA', kid, alg: 'RS256', n: jwk.n, e: jwk.e } };
}

function signJwt(header: Record<string, unknown>, claims: Record<string, unknown>, key: KeyObject): string {
  const encode = (part: Record<string, unknown>) => Buffer.from(JSON.stringify(part)).toString('base64url');
  const input = `${encode(header)}.${encode(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`;
}

class ClerkApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly longMessage: string,
    readonly meta?: Record<string, unknown>,
  ) {
    super(message);
  }
}

function notFound(longMessage: string): ClerkApiError {
  return new ClerkApiError(404, 'resource_not_found', 'not found', longMessage);
}

export async function startClerkStandIn(options: ClerkStandInOptions): Promise<ClerkStandIn> {
  const calls: ClerkRecordedCall[] = [];
  const users = new Map<string, Record<string, unknown>>();
  const sessions = new Map<string, Record<string, unknown>>();
  /** Per-session details that only show up in tokens. */
  const sessionOrgs = new Map<string, ClerkActiveOrganization>();
  const lifetime = options.tokenLifetimeSeconds ?? 60;
  const authorizedParty = options.authorizedParty === undefined ? 'http://localhost:3000' : options.authorizedParty;
  let keys: SigningKey[] = [newSigningKey()];
  let foreign: SigningKey | undefined;
  const state = { failure: null as null | ClerkFailure };

  function currentKey(): SigningKey {
    return keys[keys.length - 1] as SigningKey;
  }

  function jwks(): { keys: Array<Record<string, unknown>> } {
    return { keys: keys.map((key) => ({ ...key.publicJwk })).reverse() };
  }

  // ---- resources ---------------------------------------------------------

  function userJson(seed: ClerkStandInUser): Record<string, unknown> {
    const now = Date.now();
    const { email_address: email, id, ...rest } = seed;
    const emailAddresses: Array<Record<string, unknown>> = [];
    if (typeof email === 'string') {
      emailAddresses.push({
        id: clerkId('idn'),
        object: 'email_address',
        email_address: email,
        reserved: false,
        verification: { status: 'verified', strategy: 'admin', attempts: null, expire_at: null },
        linked_to: [],
        created_at: now,
        updated_at: now,
      });
    }
    return {
      object: 'user',
      id,
      external_id: null,
      username: null,
      first_name: null,
      last_name: null,
      image_url: 'https://img.clerk.com/eyJ0eXBlIjoiZGVmYXVsdCJ9',
      has_image: false,
      primary_email_address_id: emailAddresses[0]?.id ?? null,
      primary_phone_number_id: null,
      primary_web3_wallet_id: null,
      password_enabled: false,
      two_factor_enabled: false,
      totp_enabled: false,
      backup_code_enabled: false,
      email_addresses: emailAddresses,
      phone_numbers: [],
      web3_wallets: [],
      passkeys: [],
      external_accounts: [],
      saml_accounts: [],
      enterprise_accounts: [],
      public_metadata: {},
      private_metadata: {},
      unsafe_metadata: {},
      banned: false,
      locked: false,
      lockout_expires_in_seconds: null,
      verification_attempts_remaining: 100,
      created_at: now,
      updated_at: now,
      last_sign_in_at: null,
      last_active_at: null,
      legal_accepted_at: null,
      create_organization_enabled: true,
      create_organizations_limit: null,
      delete_self_enabled: true,
      ...rest,
    };
  }

  function addUser(seed: ClerkStandInUser): Record<string, unknown> {
    const user = userJson(seed);
    users.set(seed.id, user);
    return user;
  }

  function seedUsers(): void {
    users.clear();
    for (const seed of options.users ?? []) addUser(seed);
  }
  seedUsers();

  function createSession(
    userId: string,
    opts: { status?: 'active' | 'pending'; organization?: ClerkActiveOrganization; actor?: Record<string, unknown> } = {},
  ): Record<string, unknown> {
    const user = users.get(userId);
    if (!user) throw notFound(`No user was found with id ${userId}`);
    const now = Date.now();
    const session: Record<string, unknown> = {
      object: 'session',
      id: clerkId('sess'),
      client_id: clerkId('client'),
      user_id: userId,
      status: opts.status ?? 'active',
      last_active_at: now,
      last_active_organization_id: opts.organization?.id ?? null,
      actor: opts.actor ?? null,
      latest_activity: null,
      tasks: opts.status === 'pending' ? [{ key: 'choose-organization' }] : null,
      expire_at: now + 7 * 24 * 3600 * 1000,
      abandon_at: now + 30 * 24 * 3600 * 1000,
      created_at: now,
      updated_at: now,
    };
    sessions.set(session.id as string, session);
    if (opts.organization) sessionOrgs.set(session.id as string, opts.organization);
    user.last_sign_in_at = now;
    user.last_active_at = now;
    return session;
  }

  function mintSessionToken(userId: string, extraClaims?: Record<string, unknown>, opts: MintOptions = {}): string {
    const iat = opts.issuedAt ?? nowSeconds();
    const claims: Record<string, unknown> = {
      ...(authorizedParty !== null ? { azp: authorizedParty } : {}),
      exp: iat + (opts.expiresInSeconds ?? lifetime),
      fva: [0, -1],
      iat,
      iss: issuer,
      jti: randomBytes(10).toString('hex'),
      nbf: iat - 10,
      sid: opts.sessionId ?? clerkId('sess'),
      sub: userId,
      v: 2,
    };
    const key = currentKey();
    const header = merge({ alg: 'RS256', cat: SESSION_TOKEN_CATEGORY, kid: opts.kid ?? key.kid, typ: 'JWT' }, opts.header);
    if (opts.foreignKey) foreign ??= newSigningKey();
    return signJwt(header, sortKeys(merge(claims, extraClaims)), (opts.foreignKey ? (foreign as SigningKey) : key).privateKey);
  }

  /** The claims Clerk derives from a session's state. */
  function sessionClaims(session: Record<string, unknown>): Record<string, unknown> {
    const claims: Record<string, unknown> = {};
    const createdAt = typeof session.created_at === 'number' ? session.created_at : Date.now();
    claims.fva = [Math.floor((Date.now() - createdAt) / 60_000), -1];
    if (session.status === 'pending') claims.sts = 'pending';
    const org = sessionOrgs.get(session.id as string);
    if (org) {
      claims.o = {
        id: org.id,
        rol: org.role,
        slg: org.slug,
        ...(org.permissions?.length ? { per: org.permissions.join(',') } : {}),
      };
      if (org.features?.length) claims.fea = org.features.map((feature) => `o:${feature}`).join(',');
    }
    if (isPlainObject(session.actor)) claims.act = session.actor;
    return claims;
  }

  function tokenFor(sessionId: string, template: string | undefined, body: unknown): Record<string, unknown> {
    const session = sessions.get(sessionId);
    if (!session) throw notFound(`No session was found with id ${sessionId}`);
    if (session.status !== 'active' && session.status !== 'pending') {
      throw notFound(`Session ${sessionId} is ${String(session.status)}; tokens can only be created for active sessions`);
    }
    let expiresInSeconds: number | undefined;
    if (isPlainObject(body) && body.expires_in_seconds !== undefined) {
      if (typeof body.expires_in_seconds !== 'number' || body.expires_in_seconds < 30 || body.expires_in_seconds > 315_360_000) {
        throw new ClerkApiError(422, 'form_param_value_invalid', 'is invalid', 'expires_in_seconds must be between 30 and 315360000', {
          param_name: 'expires_in_seconds',
        });
      }
      expiresInSeconds = body.expires_in_seconds;
    }
    const userId = session.user_id as string;
    if (template === undefined) {
      const jwt = mintSessionToken(userId, sessionClaims(session), {
        sessionId,
        ...(expiresInSeconds !== undefined ? { expiresInSeconds } : {}),
      });
      return { object: 'token', jwt };
    }
    const templateClaims = options.templates?.[template];
    if (!templateClaims) throw notFound(`No JWT template exists with name: ${template}`);
    const iat = nowSeconds();
    const claims = sortKeys({
      ...(authorizedParty !== null ? { azp: authorizedParty } : {}),
      exp: iat + (expiresInSeconds ?? lifetime),
      iat,
      iss: issuer,
      jti: randomBytes(10).toString('hex'),
      nbf: iat - 10,
      sid: sessionId,
      sub: userId,
      ...templateClaims,
    });
    const key = currentKey();
    return { object: 'token', jwt: signJwt({ alg: 'RS256', kid: key.kid, typ: 'JWT' }, claims, key.privateKey) };
  }

  // ---- HTTP --------------------------------------------------------------

  interface Handled {
    status: number;
    body: unknown;
  }

  function handleApi(method: string, segments: string[], query: URLSearchParams, body: unknown): Handled {
    const [resource, id, action, extra] = segments;
    if (resource === 'jwks' && segments.length === 1 && method === 'GET') return { status: 200, body: jwks() };
    if (resource === 'users' && id !== undefined && segments.length === 2 && method === 'GET') {
      const user = users.get(id);
      if (!user) throw notFound(`No user was found with id ${id}`);
      return { status: 200, body: user };
    }
    if (resource === 'sessions') {
      if (segments.length === 1 && method === 'POST') {
        const userId = isPlainObject(body) ? body.user_id : undefined;
        if (typeof userId !== 'string' || userId === '') {
          throw new ClerkApiError(422, 'form_param_missing', 'missing required parameter', 'user_id must be included.', {
            param_name: 'user_id',
          });
        }
        return { status: 200, body: createSession(userId) };
      }
      if (segments.length === 1 && method === 'GET') {
        const userId = query.get('user_id');
        const clientId = query.get('client_id');
        const status = query.get('status');
        if (!userId && !clientId) {
          throw new ClerkApiError(422, 'form_param_missing', 'missing required parameter', 'Either user_id or client_id must be included.', {
            param_name: 'user_id',
          });
        }
        const found = [...sessions.values()]
          .filter((s) => (!userId || s.user_id === userId) && (!clientId || s.client_id === clientId) && (!status || s.status === status))
          .sort((a, b) => (b.created_at as number) - (a.created_at as number));
        const limit = Number(query.get('limit') ?? 10);
        const offset = Number(query.get('offset') ?? 0);
        const page = found.slice(offset, offset + limit);
        return { status: 200, body: query.get('paginated') === 'true' ? { data: page, total_count: found.length } : page };
      }
      if (id !== undefined) {
        if (segments.length === 2 && method === 'GET') {
          const session = sessions.get(id);
          if (!session) throw notFound(`No session was found with id ${id}`);
          return { status: 200, body: session };
        }
        if (action === 'revoke' && segments.length === 3 && method === 'POST') {
          const session = sessions.get(id);
          if (!session) throw notFound(`No session was found with id ${id}`);
          session.status = 'revoked';
          session.updated_at = Date.now();
          return { status: 200, body: session };
        }
        if (action === 'tokens' && (segments.length === 3 || segments.length === 4) && method === 'POST') {
          return { status: 200, body: tokenFor(id, extra, body) };
        }
      }
    }
    throw notFound('The requested resource was not found');
  }

  function errorPayload(error: ClerkApiError): Record<string, unknown> {
    return {
      errors: [{ message: error.message, long_message: error.longMessage, code: error.code, ...(error.meta ? { meta: error.meta } : {}) }],
      clerk_trace_id: randomUUID().replaceAll('-', ''),
    };
  }

  function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const isText = typeof body === 'string';
    const payload = isText ? body : JSON.stringify(body);
    res.writeHead(status, {
      // Exactly `application/json`: the SDK only parses JSON when the header matches it verbatim.
      'content-type': isText ? 'text/html; charset=UTF-8' : 'application/json',
      'content-length': Buffer.byteLength(payload),
      ...headers,
    });
    res.end(payload);
  }

  function defaultFailureBody(status: number): unknown {
    if (status === 429) {
      return errorPayload(new ClerkApiError(429, 'too_many_requests', 'Too Many Requests', 'Too many requests, please try again later.'));
    }
    if (status === 502 || status === 503 || status === 504) {
      const text = status === 502 ? 'Bad gateway' : status === 503 ? 'Service unavailable' : 'Gateway time-out';
      return `<!DOCTYPE html><html><head><title>${status}: ${text}</title></head><body><h1>${text}</h1><p>Error code ${status}</p></body></html>\n`;
    }
    return errorPayload(
      new ClerkApiError(
        status,
        status >= 500 ? 'internal_clerk_error' : 'request_failed',
        status >= 500 ? 'Oops, an unexpected error occurred' : 'Request failed',
        status >= 500 ? "There was an internal error on our servers. We've been notified and are working on fixing it." : 'Injected failure.',
      ),
    );
  }

  async function handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { url, method, path, body, bodyIsJson, headers } = await readRequest(req);
    const authorization = req.headers.authorization ?? '';
    const bearer = /^Bearer (.+)$/.exec(authorization)?.[1];
    const call: ClerkRecordedCall = {
      method,
      path,
      query: Object.fromEntries(url.searchParams.entries()),
      body,
      authenticated: bearer === options.secretKey,
      authKind: authorization ? 'secret_key' : 'none',
      status: 0,
      headers,
      at: Date.now(),
    };
    calls.push(call);

    const failure = await takeFailure(state, method, path);
    if (failure) {
      call.status = failure.status;
      call.rejectedReason = injectedFailureReason(failure.status);
      if (failure.status === 0) {
        req.socket.destroy();
        return;
      }
      send(
        res,
        failure.status,
        failure.body ?? defaultFailureBody(failure.status),
        failure.status === 429 ? { 'retry-after': String(failure.retryAfter ?? 1) } : {},
      );
      return;
    }

    const reply = (status: number, payload: unknown, reason?: string): void => {
      call.status = status;
      if (reason !== undefined) call.rejectedReason = reason;
      send(res, status, payload);
    };
    const replyError = (error: ClerkApiError): void => reply(error.status, errorPayload(error), `${error.code}: ${error.longMessage}`);

    // The Frontend API's public JWKS.
    if (path === '/.well-known/jwks.json' && method === 'GET') {
      reply(200, jwks());
      return;
    }
    if (!path.startsWith('/v1/')) {
      replyError(notFound('The requested resource was not found'));
      return;
    }
    if (!bearer) {
      replyError(
        new ClerkApiError(401, 'authentication_invalid', 'Invalid authentication', 'Unable to authenticate the request, you need to supply an active API key'),
      );
      return;
    }
    if (bearer !== options.secretKey) {
      const text = 'The provided Clerk Secret Key is invalid. Make sure that your Clerk Secret Key is correct.';
      replyError(new ClerkApiError(401, 'clerk_key_invalid', text, text));
      return;
    }
    if (!bodyIsJson) {
      replyError(new ClerkApiError(400, 'malformed_request', 'malformed request', 'The request body is not valid JSON.'));
      return;
    }
    try {
      const segments = path
        .slice('/v1/'.length)
        .split('/')
        .filter(Boolean)
        .map((segment) => decodeURIComponent(segment));
      const result = handleApi(method, segments, url.searchParams, body);
      reply(result.status, result.body);
    } catch (error) {
      if (error instanceof ClerkApiError) {
        replyError(error);
        return;
      }
      replyError(new ClerkApiError(500, 'internal_clerk_error', 'Oops, an unexpected error occurred', String(error)));
    }
  }

  const server = createServer((req, res) => {
    handleRequest(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, errorPayload(new ClerkApiError(500, 'internal_clerk_error', 'Oops', String(error))));
      else res.destroy();
    });
  });
  const apiUrl = await listen(server, options.host ?? '127.0.0.1', options.port);
  const issuer = options.issuer ?? apiUrl;

  return {
    apiUrl,
    jwksUrl: `${apiUrl}/.well-known/jwks.json`,
    issuer,
    get kid() {
      return currentKey().kid;
    },
    calls,
    users,
    sessions,
    get failure() {
      return state.failure;
    },
    set failure(value: null | ClerkFailure) {
      state.failure = value === null ? null : { ...value };
    },
    addUser,
    createSession,
    mintSessionToken,
    jwks,
    rotateKey(opts = {}) {
      const key = newSigningKey();
      keys = opts.keepPrevious ? [...keys, key] : [key];
      return key.kid;
    },
    reset() {
      calls.length = 0;
      sessions.clear();
      sessionOrgs.clear();
      state.failure = null;
      seedUsers();
    },
    close: () => closeServer(server),
  };
}
