import { decodeUnverified } from '../token-text.js';
import type { Command } from '../context.js';

export const inspectCommand: Command = {
  summary: 'Decode a JWT (session or Stream token) without verifying it',
  usage: [
    'Usage: stream-token-service inspect <token>',
    '',
    'Prints the header and claims of a JWT, with its times in ISO 8601 and relative to now.',
    'Nothing is verified: use it to see what a token says, never to trust it.',
    '',
    'Options:',
    '  -h, --help  show this help',
  ].join('\n'),
  options: {},
  async run(_values, positionals, context) {
    const token = positionals[0];
    if (token === undefined || positionals.length > 1) {
      context.stderr(`${this.usage}\n`);
      return 1;
    }
    const decoded = decodeUnverified(token.trim());
    if (decoded === null) {
      context.stderr('Not a JWT: expected three base64url segments with a JSON header and payload.\n');
      return 1;
    }
    context.stdout(`${JSON.stringify({ verified: false, ...decoded }, null, 2)}\n`);
    return 0;
  },
};
