/**
 * Every environment variable the service reads, once: its kind, default,
 * range, whether it is a secret, the fix for a bad value and one line of
 * documentation. The loader reads through this table, `check-config` knows
 * every name from it, and `.env.example` is generated from it (`npm run gen:env`).
 */

export type SectionId = 'mode' | 'http' | 'stream' | 'clerk' | 'oidc' | 'verification' | 'policy' | 'state';

interface Common {
  section: SectionId;
  /** One line; `.env.example` wraps it. */
  doc: string;
  /** May also be given as `<NAME>_FILE`; never printed. */
  secret?: true;
  /** Shown set (not commented out) in `.env.example`: every production configuration needs it. */
  essential?: true;
  /** The value `.env.example` shows when there is no default. */
  example?: string;
  /** The fix for a bad value; without it, one made from the kind and range. */
  fix?: string;
}

export interface IntegerVariable extends Common {
  kind: 'integer';
  /** `null`: unset means off. */
  default: number | null;
  devDefault?: number;
  min: number;
  max: number;
}
export interface BooleanVariable extends Common {
  kind: 'boolean';
  default: boolean;
}
export interface ChoiceVariable extends Common {
  kind: 'choice';
  choices: readonly string[];
  default: string;
}
/** Text as written; `path` is resolved against the working directory; `url` must be https unless loopback. */
export interface TextVariable extends Common {
  kind: 'string' | 'path' | 'url' | 'list' | 'json' | 'redis-url';
  default?: string;
  devDefault?: string;
}
export type Variable = IntegerVariable | BooleanVariable | ChoiceVariable | TextVariable;

const integer = <const T extends Omit<IntegerVariable, 'kind'>>(spec: T) => ({ kind: 'integer' as const, ...spec });
const boolean = <const T extends Omit<BooleanVariable, 'kind'>>(spec: T) => ({ kind: 'boolean' as const, ...spec });
const choice = <const T extends Omit<ChoiceVariable, 'kind'>>(spec: T) => ({ kind: 'choice' as const, ...spec });
const text = <const K extends TextVariable['kind'], const T extends Omit<TextVariable, 'kind'>>(kind: K, spec: T) => ({ kind, ...spec });

/** Highest RATE_LIMIT_PER_IP and RATE_LIMIT_PER_USER accepted, requests a minute. */
export const MAX_RATE_LIMIT_PER_MINUTE = 100_000_000;

const TLS_FIX = 'set both to PEM files, or neither to serve plain HTTP behind a TLS-terminating proxy';

export const VARIABLES = {
  // Mode
  NODE_ENV: text('string', { section: 'mode', example: 'production', doc: 'npm start sets it; dev mode is refused when it is production (any letter case)' }),
  DEV_MODE: boolean({ section: 'mode', default: false, doc: 'true: built-in development issuer (npm run dev sets it)' }),
  DEV_MODE_ALLOW_NETWORK: boolean({
    section: 'mode',
    default: false,
    doc: 'true: let dev mode run on a non-loopback HOST, with real Stream credentials or beside real issuers; anyone who reaches it can then get a token for any user',
  }),
  DEV_DIRECTORY: text('path', { section: 'mode', default: '.dev', doc: 'where dev mode keeps its key pair and placeholder Stream credentials' }),

  // HTTP
  PORT: integer({ section: 'http', default: 8080, min: 0, max: 65535, doc: 'port to listen on' }),
  HOST: text('string', { section: 'http', default: '0.0.0.0', devDefault: '127.0.0.1', doc: 'address to listen on' }),
  LOG_LEVEL: choice({
    section: 'http',
    choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    default: 'info',
    doc: 'fatal, error, warn, info, debug, trace or silent',
  }),
  TRUST_PROXY: text('list', {
    section: 'http',
    doc: 'proxy addresses/CIDRs (10.0.0.0/8,127.0.0.1) or loopback, linklocal, uniquelocal; unset: X-Forwarded-For ignored. A hop count is refused: it cannot tell a proxy from a client',
    fix: 'list the addresses or CIDRs of the proxies in front, comma-separated (e.g. 10.0.0.0/8,127.0.0.1), or loopback, linklocal or uniquelocal',
  }),
  CORS_ORIGINS: text('list', {
    section: 'http',
    doc: 'exact browser origins, comma-separated: https://app.example.com,http://localhost:5173',
    fix: 'list origins as scheme://host[:port] with no path or wildcard, comma-separated, e.g. https://app.example.com,http://localhost:5173',
  }),
  TLS_CERT_FILE: text('path', { section: 'http', doc: 'with TLS_KEY_FILE: serve HTTPS directly (PEM certificate chain)', fix: TLS_FIX }),
  TLS_KEY_FILE: text('path', { section: 'http', doc: 'the private key of TLS_CERT_FILE (PEM)', fix: TLS_FIX }),
  SHUTDOWN_DELAY_SECONDS: integer({
    section: 'http',
    default: 5,
    devDefault: 0,
    min: 0,
    max: 300,
    doc: 'after SIGTERM, keep serving this long with /readyz failing, so the load balancer stops routing here first (0 closes the port at once)',
  }),
  SHUTDOWN_GRACE_SECONDS: integer({ section: 'http', default: 10, min: 0, max: 600, doc: 'then how long the drain waits for in-flight requests' }),
  HTTP_REQUEST_TIMEOUT_MS: integer({
    section: 'http',
    default: 10_000,
    min: 1000,
    max: 600_000,
    doc: 'a request (head and body) must arrive whole within this',
  }),
  HTTP_CONNECTION_TIMEOUT_MS: integer({
    section: 'http',
    default: 30_000,
    min: 1000,
    max: 600_000,
    doc: 'a connection with nothing moving is closed after this',
  }),
  HTTP_MAX_CONNECTIONS: integer({
    section: 'http',
    default: 10_000,
    min: 1,
    max: 1_000_000,
    doc: 'open connections per process (per worker); more are closed as they arrive',
  }),
  METRICS_PORT: integer({ section: 'http', default: null, min: 1, max: 65535, doc: 'serve /metrics on its own port instead of the main one' }),
  WEB_CONCURRENCY: integer({
    section: 'http',
    default: 1,
    min: 1,
    max: 64,
    doc: 'worker processes (one per core at most); with CLERK_WEBHOOK_SECRET it needs REDIS_URL',
  }),

  // Stream
  STREAM_API_KEY: text('string', {
    section: 'stream',
    essential: true,
    doc: "your Stream app's API key",
    fix: 'copy both from the Stream dashboard (your app → Overview → Key and Secret)',
  }),
  STREAM_API_SECRET: text('string', {
    section: 'stream',
    essential: true,
    secret: true,
    doc: 'its API secret, which signs the Stream tokens',
    fix: 'copy both from the Stream dashboard (your app → Overview → Key and Secret)',
  }),
  STREAM_TOKEN_TTL_SECONDS: integer({
    section: 'stream',
    default: 3600,
    min: 60,
    max: 31_536_000,
    doc: 'lifetime of issued Stream tokens (at most STREAM_TOKEN_MAX_TTL_SECONDS)',
  }),
  STREAM_TOKEN_MAX_TTL_SECONDS: integer({
    section: 'stream',
    default: 86_400,
    min: 60,
    max: 31_536_000,
    doc: 'a ceiling on STREAM_TOKEN_TTL_SECONDS: a longer TTL is lowered to this, so a mistyped TTL cannot issue tokens that live for months',
  }),
  STREAM_API_BASE_URL: text('url', { section: 'stream', doc: "override Stream's API endpoint (e.g. an edge or a local stand-in)" }),
  STREAM_API_TIMEOUT_MS: integer({ section: 'stream', default: 3000, min: 100, max: 60_000, doc: "how long one call to Stream's API may take" }),
  STREAM_API_MAX_CONCURRENCY: integer({ section: 'stream', default: 64, min: 1, max: 10_000, doc: "calls to Stream's API under way at once, per process" }),
  STREAM_API_QUEUE_TIMEOUT_MS: integer({
    section: 'stream',
    default: 250,
    min: 0,
    max: 10_000,
    doc: 'a call finding every slot taken waits this long (0: not at all), then fails as Stream being unavailable (STREAM_SYNC_FAILURE applies)',
  }),

  // Clerk
  CLERK_JWT_ISSUER: text('url', {
    section: 'clerk',
    example: 'https://your-app.clerk.accounts.dev',
    doc: "the issuer of your Clerk instance's session tokens",
  }),
  CLERK_FRONTEND_API: text('string', {
    section: 'clerk',
    example: 'your-app.clerk.accounts.dev',
    doc: 'or its Frontend API host',
    fix: 'set it to the Frontend API host from the Clerk dashboard, e.g. your-app.clerk.accounts.dev',
  }),
  CLERK_PUBLISHABLE_KEY: text('string', {
    section: 'clerk',
    example: 'pk_test_...',
    doc: 'or its publishable key, which names that host',
    fix: 'copy the publishable key from Clerk dashboard → API keys, or set CLERK_JWT_ISSUER instead',
  }),
  CLERK_JWKS_URL: text('url', { section: 'clerk', doc: 'default <issuer>/.well-known/jwks.json; https unless loopback' }),
  CLERK_JWT_KEY: text('string', {
    section: 'clerk',
    secret: true,
    doc: 'PEM public key for networkless verification (no JWKS fetch)',
    fix: 'paste the "PEM Public Key" from Clerk dashboard → API keys → Show JWT public key, or use CLERK_JWT_KEY_FILE',
  }),
  CLERK_AUTHORIZED_PARTIES: text('list', { section: 'clerk', doc: 'allowed azp origins: https://app.example.com,http://localhost:3000' }),
  CLERK_REQUIRE_AZP: boolean({ section: 'clerk', default: false, doc: 'true: refuse tokens without azp (native apps send none)' }),
  ALLOW_IMPERSONATION: boolean({ section: 'clerk', default: false, doc: 'true: accept impersonated sessions (act claim)' }),
  CLERK_USER_ID_PREFIX: text('string', {
    section: 'clerk',
    doc: 'prepended to Clerk user ids (user_…) to make Stream user ids, e.g. clerk_',
    fix: 'use 1-64 characters of A-Z a-z 0-9 @ _ -, e.g. clerk_',
  }),
  CLERK_SECRET_KEY: text('string', { section: 'clerk', secret: true, doc: 'Backend API key, used by `clerk-token`' }),
  CLERK_API_KEY: text('string', { section: 'clerk', secret: true, doc: 'the older name of CLERK_SECRET_KEY, read when that is not set' }),
  CLERK_API_URL: text('url', { section: 'clerk', default: 'https://api.clerk.com', doc: "Clerk's Backend API" }),
  CLERK_WEBHOOK_SECRET: text('string', { section: 'clerk', secret: true, doc: 'whsec_... of the webhook endpoint (POST /webhooks/clerk)' }),

  // Other OpenID Connect issuers
  OIDC_ISSUERS: text('json', {
    section: 'oidc',
    example: '[{"issuer":"https://tenant.eu.auth0.com/","audience":"https://chat.example.com","user_id_prefix":"auth0_"}]',
    doc: 'JSON list of issuers',
    fix: 'set OIDC_ISSUERS to a JSON list such as [{"issuer":"https://example.eu.auth0.com/","audience":"my-api","user_id_prefix":"auth0_"}]',
  }),

  // Verification
  CLOCK_SKEW_SECONDS: integer({ section: 'verification', default: 5, min: 0, max: 300, doc: 'leeway for exp, nbf and iat' }),
  JWKS_CACHE_TTL_SECONDS: integer({ section: 'verification', default: 600, min: 10, max: 86_400, doc: 'background refresh interval' }),
  JWKS_COOLDOWN_SECONDS: integer({
    section: 'verification',
    default: 30,
    min: 1,
    max: 3600,
    doc: 'after a good fetch, at most one refetch per this many seconds for unknown kids; after failed fetches, retries come after 1, 2, 4 … s, at most this far apart',
  }),
  JWKS_MAX_STALE_SECONDS: integer({
    section: 'verification',
    default: 86_400,
    min: 0,
    max: 604_800,
    doc: 'keep verifying with the last good keys this long while fetches fail',
  }),
  JWKS_FETCH_TIMEOUT_MS: integer({ section: 'verification', default: 5000, min: 100, max: 60_000, doc: 'how long one key fetch may take' }),
  JWKS_FETCH_WAIT_MS: integer({
    section: 'verification',
    default: 1000,
    min: 0,
    max: 60_000,
    doc: 'longest a request waits for a key fetch (0: never); the fetch goes on behind it, and a token for a key not loaded yet gets 503 keys_unavailable',
  }),

  // Users, roles and policy
  STREAM_SYNC_USERS: boolean({ section: 'policy', default: true, doc: 'upsert the Stream user on token issue (false in dev mode without credentials)' }),
  STREAM_SYNC_TTL_SECONDS: integer({
    section: 'policy',
    default: 3600,
    min: 0,
    max: 2_592_000,
    doc: 'an unchanged profile is not upserted again within this time',
  }),
  STREAM_SYNC_FAILURE: choice({
    section: 'policy',
    choices: ['closed', 'open'],
    default: 'closed',
    doc: 'closed: 503 when Stream fails; open: issue the token anyway',
  }),
  STREAM_ROLE_MAP: text('string', {
    section: 'policy',
    example: 'org:admin=admin,org:moderator=moderator',
    doc: 'Clerk organization role=Stream role, comma-separated',
    fix: 'write it as clerk-role=stream-role pairs, comma-separated, e.g. org:admin=admin,org:moderator=moderator',
  }),
  POLICY_FILE: text('path', {
    section: 'policy',
    doc: 'YAML or JSON policy of at most 1 MiB, see docs/policy.md',
    fix: 'correct the policy file; docs/policy.md describes its format with examples',
  }),
  STREAM_ON_USER_DELETED: choice({
    section: 'policy',
    choices: ['deactivate', 'delete', 'none'],
    default: 'deactivate',
    doc: 'what user.deleted does to the Stream user: deactivate, delete or none',
  }),

  // Shared state and limits
  REDIS_URL: text('redis-url', { section: 'state', secret: true, doc: 'redis://, rediss://, redis+sentinel://, redis+cluster://; unset: in-memory' }),
  RATE_LIMIT_PER_IP: integer({ section: 'state', default: 600, min: 1, max: MAX_RATE_LIMIT_PER_MINUTE, doc: 'requests per minute per client IP' }),
  RATE_LIMIT_PER_USER: integer({
    section: 'state',
    default: 30,
    min: 1,
    max: MAX_RATE_LIMIT_PER_MINUTE,
    doc: 'token and revoke requests per minute per verified user',
  }),
  RATE_LIMIT_ON_STORE_ERROR: choice({
    section: 'state',
    choices: ['allow', 'deny'],
    default: 'allow',
    doc: "allow: count in this process's memory, same limits; deny: 503 rate_limited",
  }),
  REMOVED_USERS_ON_STORE_ERROR: choice({
    section: 'state',
    choices: ['allow', 'deny'],
    default: 'allow',
    doc: 'allow: issue tokens, still refusing users this process saw removed (applied or read in the last 24 h); deny: 503 upstream_unavailable',
  }),
} as const satisfies Record<string, Variable>;

/**
 * Every field of an `OIDC_ISSUERS` entry, with one line of documentation: the entry schema has
 * exactly these fields, `.env.example` lists them, and an unknown field is named with the nearest.
 */
export const OIDC_ISSUER_FIELDS = {
  issuer: 'exact "iss" value (required), compared byte for byte: a trailing slash counts (Auth0 issuers end in "/", most others do not)',
  audience:
    'required: your API identifier (access tokens) or client id (ID tokens), or a JSON list of them; "*" accepts any audience and logs a warning at start',
  jwks_uri: 'where the signing keys are; discovered from <issuer>/.well-known/openid-configuration when absent; https unless loopback',
  algorithms:
    'the "alg" values accepted, a JSON list, default ["RS256"]: RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, Ed25519 (RFC 9864), matched as spelled; a token signed otherwise is refused with invalid_signature',
  user_id_claim:
    'the claim that names the user, default "sub"; it must be issuer-assigned and immutable (email, name, preferred_username … are refused unless allow_mutable_user_id_claim is true); a token without it is refused with invalid_subject',
  allow_mutable_user_id_claim: 'true: accept a user_id_claim users can change, for a provider that never lets them; default false',
  user_id_prefix:
    'prepended to the user id to make the Stream user id; required with more than one issuer (Clerk or dev included), distinct, none the beginning of another ("auth0_", "okta_")',
  authorized_parties: "allowed clients, a JSON list: the token's azp, else client_id, else an ID token's audience",
  token_types: 'required "typ" values, a JSON list, e.g. ["at+jwt"] for providers that type access tokens',
  allow_machine_tokens: 'true: accept client-credentials tokens (no end user); default false (refused with unsupported_token_type)',
} as const;

export type OidcIssuerField = keyof typeof OIDC_ISSUER_FIELDS;

export type Variables = typeof VARIABLES;
export type VariableName = keyof Variables;

export const VARIABLE_NAMES = Object.keys(VARIABLES) as VariableName[];

/** Variables whose values are secrets: each may instead be given as `<NAME>_FILE`, a path to a file holding it. */
export const SECRET_VARIABLES: readonly VariableName[] = VARIABLE_NAMES.filter((name) => (VARIABLES[name] as Variable).secret === true);

export function variable(name: VariableName): Variable {
  return VARIABLES[name];
}
