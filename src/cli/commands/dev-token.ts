import { loadOrCreateDevIssuer } from '../../dev/dev-issuer.js';
import { isRecord } from '../../shared/is-record.js';
import { loadCliConfig, type CliContext, type Command } from '../context.js';

/** How long `--url` waits for the running service. */
const ASK_TIMEOUT_MS = 5000;

export const devTokenCommand: Command = {
  summary: 'Sign a development session token for a user id (dev issuer)',
  usage: [
    'Usage: stream-token-service dev-token <userId> [--claims JSON] [--issuer URL | --url URL]',
    '',
    "Signs a session token with the development issuer's key (kept in .dev/), the same key a",
    '`npm run dev` server trusts. Prints the token alone on stdout, ready for:',
    '  curl -X POST -H "Authorization: Bearer $(stream-token-service dev-token alice)" http://localhost:8080/stream/token',
    '',
    'The token names the issuer of a dev server on PORT (http://localhost:<PORT>/dev); a server on',
    'another port refuses it. --url asks a running dev server which issuer it wants instead.',
    '',
    'Options:',
    '  --claims JSON  extra claims merged over the defaults, e.g. \'{"org_role":"org:admin","org_id":"org_1"}\'',
    '  --issuer URL   the issuer the token names, e.g. http://localhost:3000/dev',
    '  --url URL      a running dev server, e.g. http://localhost:3000: sign for the issuer it names, and',
    '                 check that it trusts the key in .dev/',
    '  -h, --help     show this help',
  ].join('\n'),
  options: { claims: { type: 'string' }, issuer: { type: 'string' }, url: { type: 'string' } },
  async run(values, positionals, context) {
    const userId = positionals[0];
    if (userId === undefined || positionals.length > 1) {
      context.stderr(`${this.usage}\n`);
      return 1;
    }
    if (!/^[A-Za-z0-9@_-]{1,255}$/.test(userId)) {
      context.stderr("The user id must be 1-255 letters, digits, @, _ or - (Stream's user id alphabet).\n");
      return 1;
    }
    let claims: Record<string, unknown> = {};
    if (typeof values.claims === 'string') {
      try {
        const parsed: unknown = JSON.parse(values.claims);
        if (!isRecord(parsed)) throw new Error('not an object');
        claims = parsed;
      } catch {
        context.stderr('--claims must be a JSON object, e.g. \'{"org_role":"org:admin"}\'.\n');
        return 1;
      }
    }
    const issuerOption = typeof values.issuer === 'string' ? values.issuer : undefined;
    const url = typeof values.url === 'string' ? values.url : undefined;
    if (issuerOption !== undefined && url !== undefined) {
      context.stderr('Pass either --issuer or --url, not both.\n');
      return 1;
    }
    if (issuerOption !== undefined && !isHttpUrl(issuerOption)) {
      context.stderr(`--issuer ${issuerOption} is not an http(s) URL, e.g. http://localhost:8080/dev.\n`);
      return 1;
    }
    const config = loadCliConfig(context, { devMode: true });
    if (typeof config === 'number') return config;
    const server = url !== undefined ? await askDevServer(url, context) : null;
    if (typeof server === 'string') {
      context.stderr(`${server}\n`);
      return 1;
    }
    const issuer = loadOrCreateDevIssuer({ directory: config.dev.directory, issuer: server?.issuer ?? issuerOption ?? config.dev.issuer });
    const kid = issuer.jwks.keys[0]?.kid;
    if (server !== null && (typeof kid !== 'string' || !server.kids.includes(kid))) {
      context.stderr(
        `The dev server at ${url} trusts another key than the one in ${config.dev.directory}: run dev-token in the directory the server runs in, or set DEV_DIRECTORY to its .dev directory.\n`,
      );
      return 1;
    }
    context.stdout(`${issuer.sign(userId, claims)}\n`);
    return 0;
  },
};

function isHttpUrl(value: string): boolean {
  try {
    const { protocol } = new URL(value);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
}

/** The server answered, but not as a dev server does. */
class UnexpectedAnswer extends Error {}

/**
 * The issuer a running dev server's tokens must name and the key ids it trusts, from its discovery
 * document and JWKS; or what went wrong, in words that say what to check.
 */
async function askDevServer(url: string, context: CliContext): Promise<{ issuer: string; kids: string[] } | string> {
  if (!isHttpUrl(url)) return `--url ${url} is not an http(s) URL, e.g. http://localhost:8080.`;
  // The server's address, whether given with /dev (the issuer's own form) or without.
  const base = url.replace(/\/+$/, '').replace(/\/dev$/, '');
  const notDev = `is it a stream-token-service in dev mode (npm run dev)?`;
  const get = async (path: string): Promise<unknown> => {
    const response = await (context.fetch ?? fetch)(`${base}/dev/${path}`, { signal: AbortSignal.timeout(ASK_TIMEOUT_MS) });
    if (!response.ok) throw new UnexpectedAnswer(`${base} answered HTTP ${response.status} for /dev/${path}: ${notDev}`);
    return response.json().catch(() => {
      throw new UnexpectedAnswer(`${base} answered /dev/${path} with something other than JSON: ${notDev}`);
    });
  };
  try {
    const discovery = await get('.well-known/openid-configuration');
    if (!isRecord(discovery) || typeof discovery.issuer !== 'string') return `${base} did not name its dev issuer: ${notDev}`;
    const jwks = await get('.well-known/jwks.json');
    const keys = isRecord(jwks) && Array.isArray(jwks.keys) ? jwks.keys : [];
    return { issuer: discovery.issuer, kids: keys.flatMap((key) => (isRecord(key) && typeof key.kid === 'string' ? [key.kid] : [])) };
  } catch (err) {
    if (err instanceof UnexpectedAnswer) return err.message;
    const error = err as Error & { cause?: { code?: unknown } };
    const reason = typeof error.cause?.code === 'string' ? error.cause.code : error.message;
    return `Cannot reach a dev server at ${base} (${reason}): is it running, and on that port?`;
  }
}
