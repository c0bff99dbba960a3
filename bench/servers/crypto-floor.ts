/**
 * The crypto floor: the floor's Fastify route plus the two operations no
 * token exchange can skip, one RS256 check of the session token with a
 * cached `KeyObject` and one HMAC-SHA256 to mint the Stream token, and
 * nothing else: no claim checks, no logs, no rate limits, no metrics. It is
 * what a server that checks signatures on its event loop can reach on this
 * machine, and so the ceiling for the service's ratio to the floor.
 *
 * Not a server to deploy: it trusts any token its keys verify.
 */
import { createPublicKey, createSecretKey, verify, type KeyObject } from 'node:crypto';
import Fastify from 'fastify';
import { signStreamToken } from '../../src/stream/token-minter.js';

const port = Number(process.env.PORT ?? 0);
const host = process.env.HOST ?? '127.0.0.1';
const issuer = process.env.CLERK_JWT_ISSUER!;
const apiKey = process.env.STREAM_API_KEY!;
const streamKey = createSecretKey(Buffer.from(process.env.STREAM_API_SECRET!, 'utf8'));
const TOKEN_LIFETIME_SECONDS = 3600;

const jwks = (await (await fetch(`${issuer}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string } & Record<string, unknown>> };
const keys = new Map<string, KeyObject>(jwks.keys.map((jwk) => [jwk.kid, createPublicKey({ key: jwk, format: 'jwk' })]));

function segmentJson(token: string, start: number, end: number): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.substring(start, end), 'base64url').toString('utf8')) as Record<string, unknown>;
}

function signatureVerifies(token: string): boolean {
  const firstDot = token.indexOf('.');
  const secondDot = token.lastIndexOf('.');
  if (firstDot <= 0 || secondDot <= firstDot) return false;
  const key = keys.get(segmentJson(token, 0, firstDot).kid as string);
  if (key === undefined) return false;
  return verify('sha256', Buffer.from(token.substring(0, secondDot), 'latin1'), key, Buffer.from(token.substring(secondDot + 1), 'base64url'));
}

// The signatures of one event-loop turn are checked together once its I/O is done, as the service does
// under load: RSA checks made between network reads cost more than back to back, so this is the higher bar.
let waiting: Array<{ token: string; settle: (signed: boolean) => void }> = [];
function checkWaiting(): void {
  const turn = waiting;
  waiting = [];
  for (const { token, settle } of turn) {
    try {
      settle(signatureVerifies(token));
    } catch {
      settle(false);
    }
  }
}
function checkSignature(token: string): Promise<boolean> {
  if (waiting.length === 0) setImmediate(checkWaiting);
  return new Promise((settle) => waiting.push({ token, settle }));
}

const app = Fastify({ logger: false });
app.post('/stream/token', async (request, reply) => {
  const token = request.headers.authorization?.substring('Bearer '.length) ?? '';
  if (!(await checkSignature(token))) {
    reply.code(401);
    return { code: 'invalid_token' };
  }
  const userId = segmentJson(token, token.indexOf('.') + 1, token.lastIndexOf('.')).sub as string;
  const issuedAt = Math.floor(Date.now() / 1000);
  const expiresAt = issuedAt + TOKEN_LIFETIME_SECONDS;
  reply.header('content-type', 'application/json; charset=utf-8');
  return JSON.stringify({
    token: signStreamToken(streamKey, userId, expiresAt, issuedAt),
    user_id: userId,
    api_key: apiKey,
    expires_in: TOKEN_LIFETIME_SECONDS,
    expires_at: new Date(expiresAt * 1000).toISOString(),
  });
});

await app.listen({ host, port });
process.on('SIGTERM', () => {
  void app.close().then(() => process.exit(0));
});
