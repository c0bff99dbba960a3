/**
 * A local stand-in for Stream Chat's REST API and WebSocket edge, speaking the
 * wire protocol the official `stream-chat` SDK (v9) uses, so tests can point the
 * real SDK at it:
 *
 *   const stream = await startStreamStandIn({ apiKey, apiSecret });
 *   const server = new StreamChat(apiKey, apiSecret, { baseURL: stream.baseURL });
 *   const client = new StreamChat(apiKey, { baseURL: stream.baseURL });
 *
 * Protocol, as the SDK speaks it (stream-chat/dist/cjs/index.node.js):
 *
 * REST (`_enrichAxiosOptions`): every request carries the query `api_key`, the
 * headers `Authorization: <JWT>` (no "Bearer"), `stream-auth-type: jwt` and
 * `X-Stream-Client`. Server-side clients sign `{server: true}` with HS256 and
 * the API secret and no timestamps (`JWTServerToken`); client-side requests use
 * the user token (`{user_id}`) and add `user_id` / `connection_id` query params.
 * Errors are JSON `{code, message, StatusCode, duration, more_info, ...}`; the SDK
 * builds `ErrorFromResponse` from `response.data.code` (`errorFromResponse`), and
 * on code 40 with a token provider it reloads the token and retries.
 *
 * WebSocket (`StableWSConnection._buildUrl`): `wsBaseURL` is `baseURL` with
 * `http` replaced by `ws`; the client opens
 * `/connect?json={user_id,user_details,device,client_request_id}&api_key=…&authorization=<token>&stream-auth-type=jwt&X-Stream-Client=…`.
 * The first frame decides the connection (`onmessage` while `!isResolved`): a
 * `health.check` event with `connection_id` and `me` resolves it, a frame
 * `{error: {code, message, StatusCode, …}}` rejects it (`_errorFromWSEvent`). On
 * code 40 (`chatCodes.TOKEN_EXPIRED`) with a token provider the SDK calls
 * `_reconnect({refreshToken: true})`, which calls the provider again
 * (`tokenManager.loadToken`) and reconnects. A close with code 1000 is final for
 * the SDK; any other close code makes it reconnect (`onclose` -> `_reconnect`),
 * reusing the token it already has. The client pings with
 * `[{type: 'health.check', client_id}]` and the server answers with a
 * `health.check` event.
 *
 * For apps in a browser it answers CORS preflights and allows any origin, as
 * Stream's API does, and answers `POST /channels` (queryChannels, which a
 * channel list sends after connecting) with no channels.
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { closeServer, injectedFailureReason, listen, readRequest, sleep, takeFailure, type InjectedFailure, type RecordedRequest } from './http-standin.js';

export interface StreamStandInOptions {
  apiKey: string;
  apiSecret: string;
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** Fixed port (default: a free one). */
  port?: number;
}

/** A REST request; `path` is e.g. `/users/u1/deactivate`. */
export interface RecordedCall extends RecordedRequest {
  /** True when the credentials were valid (signature, api_key, auth type, claims). */
  authenticated: boolean;
  /** What the presented token claims to be (`server` for `{server: true}`, `user` for `{user_id}`), valid or not. */
  authKind: 'server' | 'user' | 'none';
  /** `user_id` of a user token. */
  userId?: string;
}

/** Fault injection for REST requests; see {@link InjectedFailure}. */
export type StreamFailure = InjectedFailure;

export interface RecordedConnection {
  /** The stand-in's own id for the socket. */
  id: string;
  /** `connection_id` sent in the handshake; set only when accepted. */
  connectionId?: string;
  /** The connecting user, from `json.user_id` (or `json.user_details.id`). */
  userId?: string;
  /** The token as sent in `authorization`. */
  token?: string;
  /** Token claims (decoded even when the token was refused). */
  claims?: Record<string, unknown>;
  apiKey?: string;
  authType?: string;
  clientRequestId?: string;
  userAgent?: string;
  accepted: boolean;
  /** Stream error code sent in the error frame when refused (40 expired/revoked, 43 bad signature, ...). */
  errorCode?: number;
  errorMessage?: string;
  open: boolean;
  openedAt: number;
  closedAt?: number;
  closeCode?: number;
  closedBy?: 'client' | 'server';
  /** Client health-check pings answered. */
  healthChecks: number;
}

export type ConnectionTarget = string | ((connection: RecordedConnection) => boolean);

export interface StreamStandIn {
  /** `http://127.0.0.1:PORT`; pass as `new StreamChat(key, secret, { baseURL })`. */
  baseURL: string;
  /** `ws://127.0.0.1:PORT`, what the SDK derives from `baseURL`. */
  wsURL: string;
  /** Every REST request, accepted or not. */
  calls: RecordedCall[];
  /** Current user records (id -> user, as Stream returns them). */
  users: Map<string, Record<string, unknown>>;
  /** userId -> revoke_tokens_issued_before (ISO), kept in sync with partial updates. */
  revocations: Map<string, string>;
  /** App settings served by GET /app; `revoke_tokens_issued_before` here revokes every user token issued before it. */
  app: Record<string, unknown>;
  /** Fault injection for REST requests; see {@link StreamFailure}. */
  failure: null | StreamFailure;
  /** REST requests received and not yet answered, less those the client gave up on (closed the connection). */
  readonly inFlight: number;
  /** The most REST requests in flight at once since start or `reset()`. */
  readonly peakInFlight: number;
  /** Every WebSocket connection attempt, accepted or not. */
  connections: RecordedConnection[];
  /** Connections still open. */
  liveConnections(): RecordedConnection[];
  /**
   * Simulates a token expiring mid-session: on every live connection matching `target`
   * (connection id, `connection_id`, user id or predicate; all when omitted) marks its
   * token as expired, sends the code-40 error frame and closes the socket with `closeCode`
   * (default 4000, which makes the SDK reconnect; its reconnect with the old token is then
   * refused with code 40 and the SDK asks its token provider for a new one).
   * Returns how many connections were closed.
   */
  expireConnection(target?: ConnectionTarget, options?: { closeCode?: number; message?: string }): number;
  /** Closes matching live connections from the server side (or drops them without a close frame with `terminate`). */
  closeConnection(target?: ConnectionTarget, options?: { code?: number; reason?: string; terminate?: boolean }): number;
  /** Sends an event to matching live connections (e.g. `{type: 'user.updated', user}`). */
  sendEvent(target: ConnectionTarget | undefined, event: Record<string, unknown>): number;
  /** Forgets calls, users, revocations, connections, app-level revocation, any failure and the peak in flight. Live sockets stay open. */
  reset(): void;
  close(): Promise<void>;
}

const MORE_INFO = 'https://getstream.io/chat/docs/api_errors_response';
const USER_ID_PATTERN = /^[@\w-]+$/;
/** Fields Stream computes itself; ignored in user input. */
const COMPUTED_USER_FIELDS = new Set([
  'created_at',
  'updated_at',
  'last_active',
  'online',
  'deactivated_at',
  'deleted_at',
  'banned',
  'shadow_banned',
  'last_engaged_at',
]);

interface StreamErrorInfo {
  status: number;
  code: number;
  detail: string;
}

class StreamApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    readonly detail: string,
  ) {
    super(detail);
  }
}

type TokenCheck =
  { ok: true; header: Record<string, unknown>; claims: Record<string, unknown> } | ({ ok: false; claims?: Record<string, unknown> } & StreamErrorInfo);

function base64urlJson(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** Verifies a Stream JWT the way Stream's edge does: HS256 only, signed with the app secret, exp/nbf/iat honoured. */
function checkStreamJwt(token: string, secret: string, apiKey: string): TokenCheck {
  const parts = token.split('.');
  if (parts.length !== 3) {
    return { ok: false, status: 401, code: 5, detail: 'JWTAuth error: token contains an invalid number of segments' };
  }
  const [headerPart = '', payloadPart = '', signaturePart = ''] = parts;
  const header = base64urlJson(headerPart);
  const claims = base64urlJson(payloadPart);
  if (!header || !claims) {
    return { ok: false, status: 401, code: 5, detail: 'JWTAuth error: token is malformed' };
  }
  if (signaturePart === 'devtoken') {
    return { ok: false, claims, status: 401, code: 5, detail: 'development tokens are not allowed for this application' };
  }
  const badSignature: TokenCheck = {
    ok: false,
    claims,
    status: 401,
    code: 43,
    detail: `JWTAuth error: signature is not valid. Make sure the token is created using the secret for API key "${apiKey}"`,
  };
  if (header.alg !== 'HS256') return badSignature;
  const expected = createHmac('sha256', secret).update(`${headerPart}.${payloadPart}`).digest();
  const given = Buffer.from(signaturePart, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return badSignature;
  const now = nowSeconds();
  for (const claim of ['exp', 'nbf', 'iat'] as const) {
    if (claims[claim] !== undefined && typeof claims[claim] !== 'number') {
      return { ok: false, claims, status: 401, code: 5, detail: `JWTAuth error: invalid ${claim} claim` };
    }
  }
  if (typeof claims.exp === 'number' && now > claims.exp) {
    return { ok: false, claims, status: 401, code: 40, detail: 'JWTAuth error: token is expired (exp)' };
  }
  if (typeof claims.nbf === 'number' && now < claims.nbf) {
    return { ok: false, claims, status: 401, code: 41, detail: 'JWTAuth error: token is not valid yet (nbf)' };
  }
  if (typeof claims.iat === 'number' && now < claims.iat) {
    return { ok: false, claims, status: 401, code: 42, detail: 'JWTAuth error: token used before issued at (iat)' };
  }
  return { ok: true, header, claims };
}

function errorBody(op: string, info: StreamErrorInfo, startedAt: number): Record<string, unknown> {
  return {
    code: info.code,
    message: `${op} failed with error: "${info.detail}"`,
    exception_fields: {},
    StatusCode: info.status,
    duration: duration(startedAt),
    more_info: MORE_INFO,
    details: [],
  };
}

function duration(startedAt: number): string {
  return `${(performance.now() - startedAt).toFixed(2)}ms`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function getPath(obj: Record<string, unknown>, path: string): unknown {
  let current: unknown = obj;
  for (const key of path.split('.')) {
    if (!isPlainObject(current)) return undefined;
    current = current[key];
  }
  return current;
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let current = obj;
  for (const key of keys.slice(0, -1)) {
    const next = current[key];
    if (!isPlainObject(next)) current[key] = {};
    current = current[key] as Record<string, unknown>;
  }
  current[keys[keys.length - 1] as string] = value;
}

function unsetPath(obj: Record<string, unknown>, path: string): void {
  const keys = path.split('.');
  let current: unknown = obj;
  for (const key of keys.slice(0, -1)) {
    if (!isPlainObject(current)) return;
    current = current[key];
  }
  if (isPlainObject(current)) delete current[keys[keys.length - 1] as string];
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function compare(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return JSON.stringify(a ?? '').localeCompare(JSON.stringify(b ?? ''));
}

/** Evaluates Stream's MongoDB-like filters over a user record. */
function matchesFilter(user: Record<string, unknown>, filter: Record<string, unknown>): boolean {
  return Object.entries(filter).every(([key, condition]) => {
    if (key === '$and' || key === '$or' || key === '$nor') {
      if (!Array.isArray(condition)) throw new StreamApiError(400, 4, `${key} requires an array`);
      const results = condition.map((sub) => {
        if (!isPlainObject(sub)) throw new StreamApiError(400, 4, `${key} requires an array of objects`);
        return matchesFilter(user, sub);
      });
      if (key === '$and') return results.every(Boolean);
      if (key === '$or') return results.some(Boolean);
      return !results.some(Boolean);
    }
    if (key.startsWith('$')) throw new StreamApiError(400, 4, `unsupported operator ${key}`);
    const value = getPath(user, key);
    const isOperatorObject = isPlainObject(condition) && Object.keys(condition).some((k) => k.startsWith('$'));
    if (!isOperatorObject) return deepEqual(value, condition);
    return Object.entries(condition).every(([op, operand]) => {
      switch (op) {
        case '$eq':
          return deepEqual(value, operand);
        case '$ne':
          return !deepEqual(value, operand);
        case '$in':
        case '$nin': {
          if (!Array.isArray(operand)) throw new StreamApiError(400, 4, `${op} requires an array`);
          const found = operand.some((candidate) => deepEqual(value, candidate));
          return op === '$in' ? found : !found;
        }
        case '$gt':
          return value !== undefined && compare(value, operand) > 0;
        case '$gte':
          return value !== undefined && compare(value, operand) >= 0;
        case '$lt':
          return value !== undefined && compare(value, operand) < 0;
        case '$lte':
          return value !== undefined && compare(value, operand) <= 0;
        case '$exists':
          return (value !== undefined && value !== null) === Boolean(operand);
        case '$contains':
          return Array.isArray(value) && value.some((item) => deepEqual(item, operand));
        case '$autocomplete':
          return typeof value === 'string' && typeof operand === 'string' && value.toLowerCase().includes(operand.toLowerCase());
        default:
          throw new StreamApiError(400, 4, `unsupported operator ${op} for field ${key}`);
      }
    });
  });
}

function parseBool(value: string | undefined): boolean {
  return value === 'true' || value === '1';
}

function defaultAppSettings(apiKey: string): Record<string, unknown> {
  const now = new Date().toISOString();
  return {
    name: 'stream-standin',
    organization: 'stream-standin',
    placement: '',
    api_key: apiKey,
    disable_auth_checks: false,
    disable_permissions_checks: false,
    multi_tenant_enabled: false,
    permission_version: 'v2',
    revoke_tokens_issued_before: null,
    suspended: false,
    suspended_explanation: '',
    enforce_unique_usernames: 'no',
    user_search_disallowed_roles: [],
    webhook_url: '',
    webhook_events: [],
    sqs_url: '',
    sqs_key: '',
    sqs_secret: '',
    custom_action_handler_url: '',
    before_message_send_hook_url: '',
    auto_translation_enabled: false,
    image_moderation_enabled: false,
    reminders_interval: 60,
    call_types: null,
    grants: {
      admin: ['ReadChannel', 'CreateChannel', 'UpdateUser', 'DeleteUser'],
      user: ['ReadChannel', 'CreateChannel', 'UpdateUserOwner'],
      guest: ['ReadChannel'],
      anonymous: [],
    },
    policies: {},
    channel_configs: {
      messaging: {
        name: 'messaging',
        typing_events: true,
        read_events: true,
        connect_events: true,
        search: true,
        reactions: true,
        replies: true,
        quotes: true,
        mutes: true,
        uploads: true,
        url_enrichment: true,
        custom_events: true,
        push_notifications: true,
        reminders: false,
        message_retention: 'infinite',
        max_message_length: 5000,
        automod: 'disabled',
        automod_behavior: 'flag',
        commands: [],
        created_at: now,
        updated_at: now,
      },
    },
    push_notifications: { version: 'v3', offline_only: false, providers: [] },
    file_upload_config: { allowed_file_extensions: [], blocked_file_extensions: [], allowed_mime_types: [], blocked_mime_types: [], size_limit: 0 },
    image_upload_config: { allowed_file_extensions: [], blocked_file_extensions: [], allowed_mime_types: [], blocked_mime_types: [], size_limit: 0 },
  };
}

interface LiveSocket {
  ws: WebSocket;
  record: RecordedConnection;
}

/** Polls `predicate` until it holds, or rejects after `timeoutMs`. */
export async function waitUntil(predicate: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

export async function startStreamStandIn(options: StreamStandInOptions): Promise<StreamStandIn> {
  const { apiKey, apiSecret } = options;
  const users = new Map<string, Record<string, unknown>>();
  const revocations = new Map<string, string>();
  const calls: RecordedCall[] = [];
  const connections: RecordedConnection[] = [];
  const live = new Map<string, LiveSocket>();
  const expiredTokens = new Set<string>();
  const tasks = new Map<string, Record<string, unknown>>();
  let app = defaultAppSettings(apiKey);

  const state = {
    failure: null as null | StreamFailure,
  };
  let inFlight = 0;
  let peakInFlight = 0;

  // ---- users -------------------------------------------------------------

  function userResponse(record: Record<string, unknown>): Record<string, unknown> {
    return structuredClone(record);
  }

  function revocationFor(userId: string): string | undefined {
    const own = revocations.get(userId);
    if (own) return own;
    const fromRecord = users.get(userId)?.revoke_tokens_issued_before;
    return typeof fromRecord === 'string' ? fromRecord : undefined;
  }

  /**
   * A user token is revoked when the user's `revoke_tokens_issued_before` is after its `iat`
   * (tokens without `iat` cannot be revoked per user), or when the app-level
   * `revoke_tokens_issued_before` is after its `iat` (tokens without `iat` included).
   */
  function isRevoked(userId: string, claims: Record<string, unknown>): boolean {
    const iatMs = typeof claims.iat === 'number' ? claims.iat * 1000 : undefined;
    const userBefore = revocationFor(userId);
    if (userBefore && iatMs !== undefined && iatMs < Date.parse(userBefore)) return true;
    const appBefore = app.revoke_tokens_issued_before;
    if (typeof appBefore === 'string' && appBefore !== '' && (iatMs === undefined || iatMs < Date.parse(appBefore))) return true;
    return false;
  }

  function validateUserId(id: unknown): string {
    if (typeof id !== 'string' || id === '') throw new StreamApiError(400, 4, 'user.id is a required field');
    if (id.length > 255) throw new StreamApiError(400, 4, 'user.id cannot be longer than 255 characters');
    if (!USER_ID_PATTERN.test(id)) {
      throw new StreamApiError(400, 4, `user_id "${id}" is not valid: it may only contain letters, numbers, "@", "_" and "-"`);
    }
    return id;
  }

  function applyRevocationField(id: string, record: Record<string, unknown>, value: unknown): void {
    if (value === null || value === undefined || value === '') {
      delete record.revoke_tokens_issued_before;
      revocations.delete(id);
      return;
    }
    if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) {
      throw new StreamApiError(400, 4, 'revoke_tokens_issued_before must be a RFC3339 timestamp');
    }
    const iso = new Date(value).toISOString();
    record.revoke_tokens_issued_before = iso;
    revocations.set(id, iso);
  }

  /** Upsert: custom data is replaced by the input; role/teams kept unless given; computed fields kept. */
  function upsertUser(input: Record<string, unknown>, byUser?: string): Record<string, unknown> {
    const id = validateUserId(input.id);
    const existing = users.get(id);
    const now = new Date().toISOString();
    const record: Record<string, unknown> = {
      id,
      role: existing?.role ?? 'user',
      teams: existing?.teams ?? [],
      created_at: existing?.created_at ?? now,
      updated_at: now,
      banned: existing?.banned ?? false,
      online: existing?.online ?? false,
    };
    for (const field of ['last_active', 'deactivated_at', 'deleted_at', 'shadow_banned', 'revoke_tokens_issued_before']) {
      if (existing && existing[field] !== undefined) record[field] = existing[field];
    }
    for (const [key, value] of Object.entries(input)) {
      if (key === 'id' || COMPUTED_USER_FIELDS.has(key)) continue;
      if (key === 'revoke_tokens_issued_before') {
        applyRevocationField(id, record, value);
        continue;
      }
      if (byUser !== undefined && (key === 'role' || key === 'teams')) continue;
      if (key === 'role' && typeof value !== 'string') throw new StreamApiError(400, 4, 'role must be a string');
      if (key === 'teams' && !Array.isArray(value)) throw new StreamApiError(400, 4, 'teams must be an array');
      record[key] = structuredClone(value);
    }
    users.set(id, record);
    return record;
  }

  function partialUpdate(input: unknown, byUser?: string): Record<string, unknown> {
    if (!isPlainObject(input)) throw new StreamApiError(400, 4, 'users must be a list of objects');
    const id = validateUserId(input.id);
    if (byUser !== undefined && byUser !== id) {
      throw new StreamApiError(403, 17, `user "${byUser}" is not allowed to update user "${id}"`);
    }
    const record = users.get(id);
    if (!record) throw new StreamApiError(400, 4, `users don't exist: [${id}]`);
    const set = input.set ?? {};
    const unset = input.unset ?? [];
    if (!isPlainObject(set)) throw new StreamApiError(400, 4, 'set must be an object');
    if (!Array.isArray(unset) || unset.some((field) => typeof field !== 'string')) {
      throw new StreamApiError(400, 4, 'unset must be a list of field names');
    }
    for (const [path, value] of Object.entries(set)) {
      if (path === 'id' || COMPUTED_USER_FIELDS.has(path)) {
        throw new StreamApiError(400, 4, `field "${path}" cannot be updated`);
      }
      if (path === 'revoke_tokens_issued_before') {
        applyRevocationField(id, record, value);
        continue;
      }
      if (byUser !== undefined && (path === 'role' || path === 'teams')) {
        throw new StreamApiError(403, 17, `field "${path}" can only be updated server-side`);
      }
      setPath(record, path, structuredClone(value));
    }
    for (const path of unset as string[]) {
      if (path === 'id' || COMPUTED_USER_FIELDS.has(path)) {
        throw new StreamApiError(400, 4, `field "${path}" cannot be unset`);
      }
      if (path === 'revoke_tokens_issued_before') {
        applyRevocationField(id, record, null);
        continue;
      }
      if (path === 'role') record.role = 'user';
      else if (path === 'teams') record.teams = [];
      else unsetPath(record, path);
    }
    record.updated_at = new Date().toISOString();
    return record;
  }

  function requireUser(id: string): Record<string, unknown> {
    const record = users.get(id);
    if (!record) throw new StreamApiError(404, 16, `user "${id}" does not exist`);
    return record;
  }

  function deleteUserRecord(id: string, mode: 'soft' | 'hard' | 'pruning'): Record<string, unknown> {
    const record = requireUser(id);
    const now = new Date().toISOString();
    if (mode === 'soft') {
      record.deleted_at = now;
      record.updated_at = now;
      return record;
    }
    users.delete(id);
    revocations.delete(id);
    return { ...record, deleted_at: now };
  }

  function completedTask(result: Record<string, unknown>): string {
    const taskId = randomUUID();
    const now = new Date().toISOString();
    tasks.set(taskId, { task_id: taskId, status: 'completed', created_at: now, updated_at: now, result });
    return taskId;
  }

  function markOnline(userId: string): void {
    const record = users.get(userId);
    if (!record) return;
    const online = [...live.values()].some((s) => s.record.userId === userId && s.record.accepted && s.record.open);
    record.online = online;
    if (online) record.last_active = new Date().toISOString();
  }

  // ---- REST --------------------------------------------------------------

  interface Auth {
    authenticated: boolean;
    authKind: 'server' | 'user' | 'none';
    userId?: string;
    error?: StreamErrorInfo;
  }

  function authenticate(req: IncomingMessage, query: URLSearchParams): Auth {
    const authorization = req.headers.authorization;
    const token = typeof authorization === 'string' ? authorization.trim() : '';
    const claims = token ? base64urlJson(token.split('.')[1] ?? '') : undefined;
    const authKind: Auth['authKind'] = claims?.server === true ? 'server' : typeof claims?.user_id === 'string' ? 'user' : 'none';
    const userId = authKind === 'user' ? (claims?.user_id as string) : undefined;
    const fail = (status: number, code: number, detail: string): Auth => ({
      authenticated: false,
      authKind,
      ...(userId !== undefined ? { userId } : {}),
      error: { status, code, detail },
    });

    const key = query.get('api_key');
    if (!key) return fail(401, 4, 'api_key not found');
    if (key !== apiKey) return fail(401, 2, `api_key not valid: "${key}"`);
    const authType = req.headers['stream-auth-type'];
    if (authType !== 'jwt') {
      if (authType === 'anonymous') return fail(401, 5, 'anonymous requests are not allowed for this endpoint');
      return fail(401, 5, 'JWTAuth error: Stream-Auth-Type header is missing or not valid, expected "jwt"');
    }
    if (!token) return fail(401, 5, 'JWTAuth error: Authorization header is missing');
    const check = checkStreamJwt(token, apiSecret, apiKey);
    if (!check.ok) return fail(check.status, check.code, check.detail);
    if (authKind === 'none') return fail(401, 5, 'JWTAuth error: token must contain either a user_id claim or server: true');
    if (authKind === 'user' && userId !== undefined) {
      if (expiredTokens.has(token) || isRevoked(userId, check.claims)) {
        return fail(401, 40, 'JWTAuth error: token is expired (exp)');
      }
      if (users.get(userId)?.deactivated_at) return fail(403, 17, `user "${userId}" is deactivated`);
    }
    return { authenticated: true, authKind, ...(userId !== undefined ? { userId } : {}) };
  }

  interface Route {
    op: string;
    serverOnly: boolean;
    /** Success status (default 200). */
    status?: number;
    handle(ctx: { body: unknown; query: URLSearchParams; params: string[]; auth: Auth }): Record<string, unknown>;
  }

  function route(method: string, path: string): { route: Route; params: string[] } | undefined {
    const segments = path
      .split('/')
      .filter(Boolean)
      .map((segment) => decodeURIComponent(segment));
    const [first, second, third] = segments;
    if (first === 'app' && segments.length === 1) {
      if (method === 'GET') return { route: getApp, params: [] };
      if (method === 'PATCH') return { route: updateApp, params: [] };
    }
    if (first === 'tasks' && second !== undefined && segments.length === 2 && method === 'GET') {
      return { route: getTask, params: [second] };
    }
    if (first === 'channels' && segments.length === 1 && method === 'POST') return { route: queryChannels, params: [] };
    if (first !== 'users') return undefined;
    if (segments.length === 1) {
      if (method === 'POST') return { route: upsertUsers, params: [] };
      if (method === 'PATCH') return { route: partialUpdateUsers, params: [] };
      if (method === 'GET') return { route: queryUsers, params: [] };
      return undefined;
    }
    if (segments.length === 2 && second !== undefined && method === 'POST') {
      if (second === 'delete') return { route: deleteUsers, params: [] };
      if (second === 'deactivate') return { route: deactivateUsers, params: [] };
      if (second === 'reactivate') return { route: reactivateUsers, params: [] };
      if (second === 'restore') return { route: restoreUsers, params: [] };
    }
    if (segments.length === 2 && second !== undefined && method === 'DELETE') return { route: deleteUser, params: [second] };
    if (segments.length === 3 && second !== undefined && method === 'POST') {
      if (third === 'deactivate') return { route: deactivateUser, params: [second] };
      if (third === 'reactivate') return { route: reactivateUser, params: [second] };
    }
    return undefined;
  }

  const queryChannels: Route = {
    op: 'QueryChannels',
    serverOnly: false,
    handle: () => ({ channels: [] }),
  };

  const getApp: Route = {
    op: 'GetApp',
    serverOnly: false,
    handle: () => ({ app: structuredClone(app) }),
  };

  const updateApp: Route = {
    op: 'UpdateApp',
    serverOnly: true,
    handle: ({ body }) => {
      if (!isPlainObject(body)) throw new StreamApiError(400, 4, 'invalid request body');
      for (const [key, value] of Object.entries(body)) {
        if (key === 'revoke_tokens_issued_before') {
          if (value === null || value === '') app.revoke_tokens_issued_before = null;
          else if (typeof value === 'string' && !Number.isNaN(Date.parse(value))) {
            app.revoke_tokens_issued_before = new Date(value).toISOString();
          } else throw new StreamApiError(400, 4, 'revoke_tokens_issued_before must be a RFC3339 timestamp');
        } else {
          app[key] = structuredClone(value);
        }
      }
      return {};
    },
  };

  const getTask: Route = {
    op: 'GetTask',
    serverOnly: true,
    handle: ({ params }) => {
      const task = tasks.get(params[0] as string);
      if (!task) throw new StreamApiError(404, 16, `task "${params[0]}" does not exist`);
      return structuredClone(task);
    },
  };

  const upsertUsers: Route = {
    op: 'UpdateUsers',
    serverOnly: false,
    status: 201,
    handle: ({ body, auth }) => {
      if (!isPlainObject(body) || !isPlainObject(body.users)) throw new StreamApiError(400, 4, 'users is a required field');
      const entries = Object.entries(body.users);
      if (entries.length === 0) throw new StreamApiError(400, 4, 'users is a required field');
      if (entries.length > 100) throw new StreamApiError(400, 4, 'users: max 100 users per request');
      // Validate every entry before touching the store, as the API fails the whole batch.
      for (const [key, input] of entries) {
        if (!isPlainObject(input)) throw new StreamApiError(400, 4, `users.${key} must be an object`);
        validateUserId(input.id);
        if (input.id !== key) throw new StreamApiError(400, 4, `users map key "${key}" does not match user.id "${String(input.id)}"`);
        if (auth.authKind === 'user' && auth.userId !== key) {
          throw new StreamApiError(403, 17, `user "${auth.userId}" is not allowed to update user "${key}"`);
        }
      }
      const result: Record<string, unknown> = {};
      for (const [key, input] of entries) {
        result[key] = userResponse(upsertUser(input as Record<string, unknown>, auth.authKind === 'user' ? auth.userId : undefined));
      }
      return { users: result };
    },
  };

  const partialUpdateUsers: Route = {
    op: 'UpdateUsersPartial',
    serverOnly: false,
    handle: ({ body, auth }) => {
      if (!isPlainObject(body) || !Array.isArray(body.users) || body.users.length === 0) {
        throw new StreamApiError(400, 4, 'users is a required field');
      }
      const missing = body.users
        .filter((entry): entry is Record<string, unknown> => isPlainObject(entry))
        .map((entry) => entry.id)
        .filter((id): id is string => typeof id === 'string' && !users.has(id));
      if (missing.length > 0) throw new StreamApiError(400, 4, `users don't exist: [${missing.join(' ')}]`);
      const result: Record<string, unknown> = {};
      for (const entry of body.users) {
        const record = partialUpdate(entry, auth.authKind === 'user' ? auth.userId : undefined);
        result[record.id as string] = userResponse(record);
      }
      return { users: result };
    },
  };

  const queryUsers: Route = {
    op: 'QueryUsers',
    serverOnly: false,
    handle: ({ query }) => {
      const raw = query.get('payload');
      if (!raw) throw new StreamApiError(400, 4, 'payload is a required query parameter');
      let payload: unknown;
      try {
        payload = JSON.parse(raw);
      } catch {
        throw new StreamApiError(400, 4, 'payload is not valid JSON');
      }
      if (!isPlainObject(payload)) throw new StreamApiError(400, 4, 'payload must be an object');
      const filter = payload.filter_conditions ?? {};
      if (!isPlainObject(filter)) throw new StreamApiError(400, 4, 'filter_conditions must be an object');
      const limit = payload.limit === undefined ? 30 : Number(payload.limit);
      const offset = payload.offset === undefined ? 0 : Number(payload.offset);
      if (!Number.isInteger(limit) || limit < 0 || limit > 100) throw new StreamApiError(400, 4, 'limit must be between 0 and 100');
      if (!Number.isInteger(offset) || offset < 0 || offset > 1000) throw new StreamApiError(400, 4, 'offset must be between 0 and 1000');
      const includeDeactivated = payload.include_deactivated_users === true;
      let found = [...users.values()].filter((user) => (includeDeactivated || !user.deactivated_at) && matchesFilter(user, filter));
      const sort = Array.isArray(payload.sort) && payload.sort.length > 0 ? payload.sort : [{ field: 'created_at', direction: -1 }];
      found = found.sort((a, b) => {
        for (const entry of sort) {
          if (!isPlainObject(entry) || typeof entry.field !== 'string') continue;
          const order = compare(getPath(a, entry.field), getPath(b, entry.field));
          if (order !== 0) return entry.direction === -1 ? -order : order;
        }
        return 0;
      });
      return { users: found.slice(offset, offset + limit).map(userResponse) };
    },
  };

  const deactivateUser: Route = {
    op: 'DeactivateUser',
    serverOnly: true,
    handle: ({ params, body }) => {
      const id = params[0] as string;
      const record = requireUser(id);
      if (record.deactivated_at) throw new StreamApiError(400, 4, `user "${id}" is already deactivated`);
      const now = new Date().toISOString();
      record.deactivated_at = now;
      record.updated_at = now;
      if (isPlainObject(body) && body.mark_messages_deleted === true) record.messages_deleted = true;
      // A deactivated user can no longer stay connected.
      closeMatching(id, 1000, 'user deactivated');
      return { user: userResponse(record) };
    },
  };

  const reactivateUser: Route = {
    op: 'ReactivateUser',
    serverOnly: true,
    handle: ({ params, body }) => {
      const id = params[0] as string;
      const record = requireUser(id);
      if (!record.deactivated_at) throw new StreamApiError(400, 4, `user "${id}" is not deactivated`);
      delete record.deactivated_at;
      record.updated_at = new Date().toISOString();
      if (isPlainObject(body) && typeof body.name === 'string') record.name = body.name;
      return { user: userResponse(record) };
    },
  };

  const deleteUser: Route = {
    op: 'DeleteUser',
    serverOnly: true,
    handle: ({ params, query }) => {
      const id = params[0] as string;
      const record = deleteUserRecord(id, parseBool(query.get('hard_delete') ?? undefined) ? 'hard' : 'soft');
      closeMatching(id, 1000, 'user deleted');
      return { user: userResponse(record) };
    },
  };

  function userIdsFrom(body: unknown): string[] {
    if (!isPlainObject(body) || !Array.isArray(body.user_ids) || body.user_ids.length === 0) {
      throw new StreamApiError(400, 4, 'user_ids is a required field');
    }
    if (body.user_ids.length > 100) throw new StreamApiError(400, 4, 'user_ids: max 100 users per request');
    return body.user_ids.map((id) => validateUserId(id));
  }

  const deleteUsers: Route = {
    op: 'DeleteUsers',
    serverOnly: true,
    handle: ({ body }) => {
      const ids = userIdsFrom(body);
      const mode = isPlainObject(body) ? body.user : undefined;
      if (mode !== undefined && mode !== 'soft' && mode !== 'hard' && mode !== 'pruning') {
        throw new StreamApiError(400, 4, 'user must be one of [soft hard pruning]');
      }
      const deleted: Record<string, unknown> = {};
      for (const id of ids) {
        if (!users.has(id)) continue;
        deleteUserRecord(id, mode ?? 'soft');
        closeMatching(id, 1000, 'user deleted');
        deleted[id] = { status: 'ok' };
      }
      return { task_id: completedTask({ users: deleted }) };
    },
  };

  const deactivateUsers: Route = {
    op: 'DeactivateUsers',
    serverOnly: true,
    handle: ({ body }) => {
      const ids = userIdsFrom(body);
      const now = new Date().toISOString();
      for (const id of ids) {
        const record = users.get(id);
        if (!record || record.deactivated_at) continue;
        record.deactivated_at = now;
        record.updated_at = now;
        closeMatching(id, 1000, 'user deactivated');
      }
      return { task_id: completedTask({ user_ids: ids }) };
    },
  };

  const reactivateUsers: Route = {
    op: 'ReactivateUsers',
    serverOnly: true,
    handle: ({ body }) => {
      const ids = userIdsFrom(body);
      for (const id of ids) {
        const record = users.get(id);
        if (!record || !record.deactivated_at) continue;
        delete record.deactivated_at;
        record.updated_at = new Date().toISOString();
      }
      return { task_id: completedTask({ user_ids: ids }) };
    },
  };

  const restoreUsers: Route = {
    op: 'RestoreUsers',
    serverOnly: true,
    handle: ({ body }) => {
      for (const id of userIdsFrom(body)) {
        const record = users.get(id);
        if (record) {
          delete record.deleted_at;
          record.updated_at = new Date().toISOString();
        }
      }
      return {};
    },
  };

  function send(res: ServerResponse, status: number, body: unknown, extraHeaders: Record<string, string> = {}): void {
    const isText = typeof body === 'string';
    const payload = isText ? body : JSON.stringify(body);
    res.writeHead(status, {
      'content-type': isText ? 'text/html; charset=utf-8' : 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(payload),
      'x-ratelimit-limit': '10000',
      'x-ratelimit-remaining': '9999',
      'x-ratelimit-reset': String(nowSeconds() + 60),
      'access-control-allow-origin': '*',
      ...extraHeaders,
    });
    res.end(payload);
  }

  function defaultFailureBody(status: number, op: string, startedAt: number): unknown {
    if (status === 429) {
      return {
        code: 9,
        message: 'Too many requests, check response headers for more information.',
        exception_fields: {},
        StatusCode: 429,
        duration: duration(startedAt),
        more_info: MORE_INFO,
        details: [],
      };
    }
    if (status === 502 || status === 503 || status === 504) {
      const text = status === 502 ? 'Bad Gateway' : status === 503 ? 'Service Unavailable' : 'Gateway Timeout';
      return `<html><head><title>${status} ${text}</title></head><body><center><h1>${status} ${text}</h1></center></body></html>\n`;
    }
    if (status >= 500) return errorBody(op, { status, code: -1, detail: 'internal system error' }, startedAt);
    return errorBody(op, { status, code: 4, detail: 'injected failure' }, startedAt);
  }

  async function handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const startedAt = performance.now();
    const { url, method, path, body, bodyIsJson, headers } = await readRequest(req);
    const auth = authenticate(req, url.searchParams);
    const call: RecordedCall = {
      method,
      path,
      query: Object.fromEntries(url.searchParams.entries()),
      body,
      authenticated: auth.authenticated,
      authKind: auth.authKind,
      ...(auth.userId !== undefined ? { userId: auth.userId } : {}),
      status: 0,
      headers,
      at: Date.now(),
    };
    calls.push(call);
    const matched = route(method, path);
    const op = matched?.route.op ?? 'Request';

    const failure = await takeFailure(state, method, path);
    if (failure) {
      call.rejectedReason = injectedFailureReason(failure.status);
      call.status = failure.status;
      if (failure.status === 0) {
        req.socket.destroy();
        return;
      }
      const failureHeaders: Record<string, string> = {};
      if (failure.status === 429) {
        failureHeaders['retry-after'] = String(failure.retryAfter ?? 1);
        failureHeaders['x-ratelimit-remaining'] = '0';
      }
      send(res, failure.status, failure.body ?? defaultFailureBody(failure.status, op, startedAt), failureHeaders);
      return;
    }

    const reply = (status: number, payload: unknown, reason?: string): void => {
      call.status = status;
      if (reason !== undefined) call.rejectedReason = reason;
      send(res, status, payload);
    };
    const replyError = (info: StreamErrorInfo): void => {
      reply(info.status, errorBody(op, info, startedAt), info.detail);
    };

    if (auth.error) {
      replyError(auth.error);
      return;
    }
    if (!matched) {
      replyError({ status: 404, code: 16, detail: `no route for ${method} ${path}` });
      return;
    }
    if (matched.route.serverOnly && auth.authKind !== 'server') {
      replyError({ status: 403, code: 17, detail: 'this endpoint can only be called server side' });
      return;
    }
    if (!bodyIsJson) {
      replyError({ status: 400, code: 4, detail: 'request body is not valid JSON' });
      return;
    }
    try {
      const result = matched.route.handle({ body, query: url.searchParams, params: matched.params, auth });
      reply(matched.route.status ?? 200, { ...result, duration: duration(startedAt) });
    } catch (error) {
      if (error instanceof StreamApiError) {
        replyError({ status: error.status, code: error.code, detail: error.detail });
        return;
      }
      replyError({ status: 500, code: -1, detail: error instanceof Error ? error.message : String(error) });
    }
  }

  // ---- WebSocket ---------------------------------------------------------

  function ownUser(record: Record<string, unknown>): Record<string, unknown> {
    return {
      ...userResponse(record),
      online: true,
      invisible: false,
      shadow_banned: false,
      language: '',
      blocked_user_ids: [],
      channel_mutes: [],
      devices: [],
      mutes: [],
      total_unread_count: 0,
      unread_channels: 0,
      unread_count: 0,
      unread_threads: 0,
    };
  }

  function wsError(code: number, detail: string, status: number): Record<string, unknown> {
    return {
      error: {
        code,
        message: `Connect failed with error: "${detail}"`,
        exception_fields: {},
        StatusCode: status,
        duration: '0.00ms',
        more_info: MORE_INFO,
        details: [],
      },
    };
  }

  function refuse(ws: WebSocket, record: RecordedConnection, code: number, detail: string, status: number): void {
    record.accepted = false;
    record.errorCode = code;
    record.errorMessage = detail;
    record.closedBy = 'server';
    ws.send(JSON.stringify(wsError(code, detail, status)));
    // The error frame settles the connection for the SDK; close normally so it does not reconnect on its own.
    ws.close(1000, '');
  }

  function onConnection(ws: WebSocket, req: IncomingMessage): void {
    const url = new URL(req.url ?? '/', 'ws://stand-in');
    const query = url.searchParams;
    const token = query.get('authorization') ?? '';
    const record: RecordedConnection = {
      id: randomUUID(),
      token,
      apiKey: query.get('api_key') ?? '',
      authType: query.get('stream-auth-type') ?? '',
      userAgent: query.get('X-Stream-Client') ?? '',
      accepted: false,
      open: true,
      openedAt: Date.now(),
      healthChecks: 0,
    };
    connections.push(record);
    const socket: LiveSocket = { ws, record };
    live.set(record.id, socket);

    ws.on('close', (code) => {
      record.open = false;
      record.closedAt = Date.now();
      record.closeCode = code;
      record.closedBy ??= 'client';
      live.delete(record.id);
      if (record.accepted && record.userId) markOnline(record.userId);
    });
    ws.on('error', () => {
      // The close handler does the bookkeeping.
    });

    let json: unknown;
    try {
      json = JSON.parse(query.get('json') ?? '');
    } catch {
      refuse(ws, record, 4, 'json query parameter is missing or not valid JSON', 400);
      return;
    }
    if (!isPlainObject(json)) {
      refuse(ws, record, 4, 'json query parameter must be an object', 400);
      return;
    }
    const details = isPlainObject(json.user_details) ? json.user_details : {};
    const userId = typeof json.user_id === 'string' ? json.user_id : typeof details.id === 'string' ? details.id : undefined;
    if (userId !== undefined) record.userId = userId;
    if (typeof json.client_request_id === 'string') record.clientRequestId = json.client_request_id;
    const claims = base64urlJson(token.split('.')[1] ?? '');
    if (claims) record.claims = claims;

    if (!record.apiKey) {
      refuse(ws, record, 4, 'api_key not found', 401);
      return;
    }
    if (record.apiKey !== apiKey) {
      refuse(ws, record, 2, `api_key not valid: "${record.apiKey}"`, 401);
      return;
    }
    if (record.authType !== 'jwt') {
      refuse(ws, record, 5, 'anonymous connections are not allowed for this application', 401);
      return;
    }
    if (!token) {
      refuse(ws, record, 5, 'JWTAuth error: authorization is missing', 401);
      return;
    }
    const check = checkStreamJwt(token, apiSecret, apiKey);
    if (!check.ok) {
      refuse(ws, record, check.code, check.detail, check.status);
      return;
    }
    if (userId === undefined) {
      refuse(ws, record, 4, 'user_id is a required field', 400);
      return;
    }
    if (typeof check.claims.user_id !== 'string') {
      refuse(ws, record, 5, 'JWTAuth error: token does not contain a user_id claim', 401);
      return;
    }
    if (check.claims.user_id !== userId) {
      refuse(ws, record, 5, `JWTAuth error: token user_id "${check.claims.user_id}" does not match the connecting user "${userId}"`, 401);
      return;
    }
    if (expiredTokens.has(token) || isRevoked(userId, check.claims)) {
      refuse(ws, record, 40, 'JWTAuth error: token is expired (exp)', 401);
      return;
    }
    try {
      validateUserId(userId);
    } catch (error) {
      refuse(ws, record, 4, (error as StreamApiError).detail, 400);
      return;
    }
    const existing = users.get(userId);
    if (existing?.deactivated_at) {
      refuse(ws, record, 17, `user "${userId}" is deactivated`, 403);
      return;
    }
    if (existing?.deleted_at) {
      refuse(ws, record, 17, `user "${userId}" was deleted`, 403);
      return;
    }

    // connectUser upserts the connecting user: new users are created, given fields are merged in.
    const now = new Date().toISOString();
    const user: Record<string, unknown> = existing ?? { id: userId, role: 'user', teams: [], created_at: now, banned: false, online: false };
    for (const [key, value] of Object.entries(details)) {
      if (key === 'id' || key === 'role' || key === 'teams' || key === 'revoke_tokens_issued_before' || COMPUTED_USER_FIELDS.has(key)) continue;
      user[key] = structuredClone(value);
    }
    if (!existing || Object.keys(details).some((key) => key !== 'id')) user.updated_at = now;
    users.set(userId, user);

    record.accepted = true;
    record.connectionId = randomUUID();
    markOnline(userId);
    ws.send(
      JSON.stringify({
        type: 'health.check',
        connection_id: record.connectionId,
        cid: '*',
        me: ownUser(user),
        created_at: new Date().toISOString(),
      }),
    );

    ws.on('message', (data) => {
      let message: unknown;
      try {
        message = JSON.parse((data as Buffer).toString());
      } catch {
        return;
      }
      const events = Array.isArray(message) ? message : [message];
      if (events.some((event) => isPlainObject(event) && event.type === 'health.check') && ws.readyState === ws.OPEN) {
        record.healthChecks += 1;
        const owner = users.get(userId);
        if (owner) owner.last_active = new Date().toISOString();
        ws.send(JSON.stringify({ type: 'health.check', connection_id: record.connectionId, cid: '*', created_at: new Date().toISOString() }));
      }
    });
  }

  function matching(target: ConnectionTarget | undefined): LiveSocket[] {
    return [...live.values()].filter(({ record }) => {
      if (!record.accepted || !record.open) return false;
      if (target === undefined) return true;
      if (typeof target === 'function') return target(record);
      return record.id === target || record.connectionId === target || record.userId === target;
    });
  }

  function closeMatching(target: ConnectionTarget | undefined, code: number, reason: string): number {
    const sockets = matching(target);
    for (const { ws, record } of sockets) {
      record.closedBy = 'server';
      ws.close(code, reason);
    }
    return sockets.length;
  }

  // ---- server ------------------------------------------------------------

  const server = createServer((req, res) => {
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        'access-control-allow-origin': '*',
        'access-control-allow-methods': 'GET, POST, PUT, PATCH, DELETE',
        'access-control-allow-headers': req.headers['access-control-request-headers'] ?? '*',
      });
      res.end();
      return;
    }
    inFlight += 1;
    peakInFlight = Math.max(peakInFlight, inFlight);
    // 'close' comes once the answer is sent or the client dropped the connection (an SDK timeout does).
    res.once('close', () => {
      inFlight -= 1;
    });
    handleRequest(req, res).catch((error: unknown) => {
      if (!res.headersSent) {
        send(res, 500, errorBody('Request', { status: 500, code: -1, detail: String(error) }, performance.now()));
      } else {
        res.destroy();
      }
    });
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'ws://stand-in');
    if (url.pathname !== '/connect') {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, req));
  });

  const baseURL = await listen(server, options.host ?? '127.0.0.1', options.port);

  const standIn: StreamStandIn = {
    baseURL,
    wsURL: baseURL.replace('http', 'ws'),
    calls,
    users,
    revocations,
    get app() {
      return app;
    },
    set app(value: Record<string, unknown>) {
      app = value;
    },
    get failure() {
      return state.failure;
    },
    set failure(value: null | StreamFailure) {
      state.failure = value === null ? null : { ...value };
    },
    get inFlight() {
      return inFlight;
    },
    get peakInFlight() {
      return peakInFlight;
    },
    connections,
    liveConnections: () => [...live.values()].map(({ record }) => record).filter((record) => record.open),
    expireConnection(target, opts = {}) {
      const sockets = matching(target);
      for (const { ws, record } of sockets) {
        if (record.token) expiredTokens.add(record.token);
        record.closedBy = 'server';
        ws.send(
          JSON.stringify({
            error: {
              code: 40,
              message: opts.message ?? 'JWTAuth error: token is expired (exp)',
              exception_fields: {},
              StatusCode: 401,
              duration: '0.00ms',
              more_info: MORE_INFO,
              details: [],
            },
          }),
        );
        ws.close(opts.closeCode ?? 4000, 'token expired');
      }
      return sockets.length;
    },
    closeConnection(target, opts = {}) {
      if (!opts.terminate) return closeMatching(target, opts.code ?? 1001, opts.reason ?? '');
      const sockets = matching(target);
      for (const { ws, record } of sockets) {
        record.closedBy = 'server';
        ws.terminate();
      }
      return sockets.length;
    },
    sendEvent(target, event) {
      const sockets = matching(target);
      for (const { ws, record } of sockets) {
        ws.send(JSON.stringify({ connection_id: record.connectionId, created_at: new Date().toISOString(), ...event }));
      }
      return sockets.length;
    },
    reset() {
      calls.length = 0;
      connections.length = 0;
      users.clear();
      revocations.clear();
      expiredTokens.clear();
      tasks.clear();
      app = defaultAppSettings(apiKey);
      state.failure = null;
      peakInFlight = inFlight;
    },
    async close() {
      for (const { ws } of live.values()) ws.terminate();
      live.clear();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await closeServer(server);
    },
  };
  return standIn;
}
