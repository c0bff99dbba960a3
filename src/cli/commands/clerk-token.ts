import { readFileSync } from 'node:fs';
import { formatProblems, misplacedClerkCredential, readEnvironment, resolveSecretFiles, type ConfigProblem } from '../../config/index.js';
import type { Command } from '../context.js';

export const clerkTokenCommand: Command = {
  summary: "Get a real Clerk session token for a user through Clerk's Backend API",
  usage: [
    'Usage: stream-token-service clerk-token --user-id ID [--template NAME]',
    '',
    "Creates a session for the user with Clerk's Backend API (CLERK_SECRET_KEY or CLERK_API_KEY,",
    'CLERK_API_URL to override https://api.clerk.com), then a session token for it, and prints the',
    'token alone on stdout. Meant for development instances: it signs the user in.',
    '',
    'Options:',
    '  --user-id ID     the Clerk user id (user_...)',
    '  --template NAME  a JWT template to use instead of the default session token',
    '  -h, --help       show this help',
  ].join('\n'),
  options: { 'user-id': { type: 'string' }, template: { type: 'string' } },
  async run(values, _positionals, context) {
    const userId = values['user-id'];
    if (typeof userId !== 'string' || userId === '') {
      context.stderr(`${this.usage}\n`);
      return 1;
    }
    const problems: ConfigProblem[] = [];
    const env = resolveSecretFiles(readEnvironment({ processEnv: context.env, cwd: context.cwd }), (p) => readFileSync(p, 'utf8'), problems);
    const secretKey = env.CLERK_SECRET_KEY ?? env.CLERK_API_KEY;
    if (secretKey === undefined || secretKey === '') {
      problems.push({
        variable: 'CLERK_SECRET_KEY',
        message: "is required to call Clerk's Backend API",
        fix: 'set CLERK_SECRET_KEY (sk_test_...) from Clerk dashboard → API keys',
      });
    } else {
      const misplaced = misplacedClerkCredential('secret key', secretKey);
      if (misplaced !== null) problems.push({ variable: env.CLERK_SECRET_KEY !== undefined ? 'CLERK_SECRET_KEY' : 'CLERK_API_KEY', ...misplaced });
    }
    if (problems.length > 0) {
      context.stderr(`${formatProblems(problems)}\n`);
      return 2;
    }
    const { createClerkClient } = await import('@clerk/backend');
    const apiUrl = env.CLERK_API_URL ?? 'https://api.clerk.com';
    const clerk = createClerkClient({ secretKey, apiUrl });
    try {
      const session = await clerk.sessions.createSession({ userId });
      const token = await clerk.sessions.getToken(session.id, typeof values.template === 'string' ? values.template : undefined);
      context.stdout(`${token.jwt}\n`);
      return 0;
    } catch (err) {
      context.stderr(`${describeClerkFailure(err, apiUrl)}\n`);
      return 1;
    }
  },
};

interface ClerkFailure {
  status?: number;
  errors?: Array<{ code?: string; message?: string; longMessage?: string }>;
  message?: string;
}

/**
 * Whether Clerk answered, and what: Clerk's client reports a request that never got an answer as an
 * error without a status, so the URL and the network are what to check; with a status, Clerk itself
 * refused (4xx: the key, the user id, the template) or failed (5xx).
 */
function describeClerkFailure(err: unknown, apiUrl: string): string {
  const e = err as ClerkFailure;
  const errors = Array.isArray(e.errors) ? e.errors : [];
  const said = errors.map((x) => [x.code, x.longMessage ?? x.message].filter(Boolean).join(': ')).join('; ') || e.message || 'no reason given';
  if (typeof e.status !== 'number') {
    return `Could not reach Clerk at ${apiUrl} (${said}): check CLERK_API_URL and this machine's network.`;
  }
  if (e.status >= 500) return `Clerk failed: HTTP ${e.status} ${said}; try again shortly.`;
  return `Clerk refused: ${e.status} ${said}`;
}
