import { loadOrCreateDevIssuer } from '../../dev/dev-issuer.js';
import { isRecord } from '../../shared/is-record.js';
import { loadCliConfig, type Command } from '../context.js';

export const devTokenCommand: Command = {
  summary: 'Sign a development session token for a user id (dev issuer)',
  usage: [
    'Usage: stream-token-service dev-token <userId> [--claims JSON]',
    '',
    "Signs a session token with the development issuer's key (kept in .dev/), the same key a",
    '`npm run dev` server trusts. Prints the token alone on stdout, ready for:',
    '  curl -X POST -H "Authorization: Bearer $(stream-token-service dev-token alice)" http://localhost:8080/stream/token',
    '',
    'Options:',
    '  --claims JSON  extra claims merged over the defaults, e.g. \'{"org_role":"org:admin","org_id":"org_1"}\'',
    '  -h, --help     show this help',
  ].join('\n'),
  options: { claims: { type: 'string' } },
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
    const config = loadCliConfig(context, { devMode: true });
    if (typeof config === 'number') return config;
    const issuer = loadOrCreateDevIssuer({ directory: config.dev.directory, issuer: config.dev.issuer });
    context.stdout(`${issuer.sign(userId, claims)}\n`);
    return 0;
  },
};
