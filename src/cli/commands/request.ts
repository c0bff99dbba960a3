import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { decodeUnverified } from '../token-text.js';
import type { Command } from '../context.js';

const STREAM_HEADER = '{"alg":"HS256","typ":"JWT"}';

export const requestCommand: Command = {
  summary: 'Call a running service with a session token and check the Stream token it returns',
  usage: [
    'Usage: stream-token-service request --url URL (--token T | --token-file F) [--secret S]',
    '',
    'POSTs to <URL>/stream/token (or to URL itself when it already ends in /stream/token) with',
    'Authorization: Bearer <session token>, prints the response and the decoded Stream token, and checks',
    'it: header as Stream expects, user_id as answered, expiry in the future, and with --secret (or',
    'STREAM_API_SECRET) the HS256 signature. Exits 0 when every check passes.',
    '',
    'Options:',
    '  --url URL         the service, e.g. http://localhost:8080',
    '  --token T         the session token',
    '  --token-file F    a file holding the session token ("-" for standard input is not read)',
    '  --secret S        the Stream API secret, to verify the signature',
    '  -h, --help        show this help',
  ].join('\n'),
  options: { url: { type: 'string' }, token: { type: 'string' }, 'token-file': { type: 'string' }, secret: { type: 'string' } },
  async run(values, _positionals, context) {
    const url = typeof values.url === 'string' ? values.url : undefined;
    const tokenFile = typeof values['token-file'] === 'string' ? values['token-file'] : undefined;
    // What is wrong is said first, so it is not lost in the usage.
    const wrongArguments = (message: string): number => {
      context.stderr(`${message}\n\n${this.usage}\n`);
      return 1;
    };
    if (url === undefined) return wrongArguments('Missing --url: the service to call, e.g. --url http://localhost:8080.');
    if (values.token === undefined && tokenFile === undefined) {
      return wrongArguments('Missing the session token: pass --token T, or --token-file F for a file that holds it.');
    }
    if (values.token !== undefined && tokenFile !== undefined) return wrongArguments('Pass either --token or --token-file, not both.');
    let sessionToken: string;
    try {
      sessionToken = typeof values.token === 'string' ? values.token : readFileSync(tokenFile as string, 'utf8');
    } catch {
      context.stderr(`Cannot read ${tokenFile}.\n`);
      return 1;
    }
    sessionToken = sessionToken.trim();
    let endpoint: URL;
    try {
      endpoint = new URL(url);
    } catch {
      context.stderr(`--url ${url} is not a URL.\n`);
      return 1;
    }
    if (!endpoint.pathname.endsWith('/stream/token')) endpoint.pathname = `${endpoint.pathname.replace(/\/+$/, '')}/stream/token`;

    const doFetch = context.fetch ?? fetch;
    let response: Response;
    try {
      response = await doFetch(endpoint, { method: 'POST', headers: { authorization: `Bearer ${sessionToken}` } });
    } catch (err) {
      context.stderr(`Cannot reach ${endpoint.origin}: ${(err as Error).message}\n`);
      return 1;
    }
    const text = await response.text();
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      context.stderr(`HTTP ${response.status}: the answer is not JSON.\n`);
      return 1;
    }
    if (!response.ok) {
      context.stderr(`HTTP ${response.status} ${typeof body.code === 'string' ? body.code : ''}\n${JSON.stringify(body, null, 2)}\n`);
      return 1;
    }
    const token = typeof body.token === 'string' ? body.token : '';
    const decoded = decodeUnverified(token);
    const checks: Record<string, string> = {};
    let ok = decoded !== null;
    if (decoded !== null) {
      const headerText = Buffer.from(token.split('.')[0] as string, 'base64url').toString('utf8');
      checks.header = headerText === STREAM_HEADER ? 'ok' : `unexpected ${headerText}`;
      checks.user_id = decoded.claims.user_id === body.user_id ? 'ok' : 'differs from the answer';
      const exp = decoded.claims.exp;
      checks.exp = typeof exp === 'number' && exp * 1000 > Date.now() ? 'ok' : 'missing or in the past';
      const secret = typeof values.secret === 'string' ? values.secret : context.env.STREAM_API_SECRET;
      if (secret !== undefined && secret !== '') {
        const [h, p, s] = token.split('.') as [string, string, string];
        const expected = createHmac('sha256', secret).update(`${h}.${p}`).digest();
        const actual = Buffer.from(s, 'base64url');
        checks.signature = actual.length === expected.length && timingSafeEqual(actual, expected) ? 'ok' : 'does not verify with this secret';
      } else {
        checks.signature = 'not checked (pass --secret or set STREAM_API_SECRET)';
      }
      ok = Object.values(checks).every((v) => v === 'ok' || v.startsWith('not checked'));
    }
    context.stdout(`${JSON.stringify({ response: body, stream_token: decoded, checks }, null, 2)}\n`);
    return ok ? 0 : 1;
  },
};
