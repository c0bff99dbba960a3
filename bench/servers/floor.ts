/**
 * The floor: Fastify answering the token route with a constant body, no
 * authentication, no logging. Nothing that does real work can be faster on
 * this machine with this HTTP stack.
 */
import Fastify from 'fastify';

const port = Number(process.env.PORT ?? 0);
const host = process.env.HOST ?? '127.0.0.1';

// Same shape and size as a real answer.
const body = JSON.stringify({
  token:
    'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VyX2lkIjoidXNlcl8yYmVuY2gwMDAwMDAwMDAwMDAwMDAwMDAwMDAiLCJleHAiOjE4MDAwMDAwMDAsImlhdCI6MTc5OTk5NjQwMH0.c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dQ',
  user_id: 'user_2bench000000000000000000000',
  api_key: 'bench_api_key',
  expires_in: 3595,
  expires_at: '2027-01-15T08:00:00.000Z',
});

const app = Fastify({ logger: false });
app.post('/stream/token', async (_request, reply) => {
  reply.header('content-type', 'application/json; charset=utf-8');
  return body;
});

await app.listen({ host, port });
process.on('SIGTERM', () => {
  void app.close().then(() => process.exit(0));
});
