import { randomUUID } from 'node:crypto';
import { Webhook } from 'svix';
import { startStreamStandIn } from '../../test/support/stream-standin.js';
import { ChaosIssuer } from '../lib/issuer.js';
import { STREAM_KEY, STREAM_SECRET, target, type Scenario, type ScenarioResult } from '../lib/scenario.js';
import { startService } from '../lib/service.js';

const USERS = 50;
const SECRET = `whsec_${Buffer.from('chaos-webhook-secret-0123456789').toString('base64')}`;

function user(id: string, updatedAt: number): Record<string, unknown> {
  return {
    id,
    object: 'user',
    first_name: 'Chaos',
    last_name: id,
    image_url: '',
    email_addresses: [],
    phone_numbers: [],
    public_metadata: {},
    created_at: updatedAt - 60_000,
    updated_at: updatedAt,
  };
}

export const webhookOrder: Scenario = {
  name: 'webhooks-out-of-order',
  summary: `${USERS} users deleted, with older updates and duplicates delivered concurrently in random order`,
  async run(): Promise<ScenarioResult> {
    const issuer = await ChaosIssuer.start('RS256');
    const stream = await startStreamStandIn({ apiKey: STREAM_KEY, apiSecret: STREAM_SECRET });
    const service = await startService({
      STREAM_API_KEY: STREAM_KEY,
      STREAM_API_SECRET: STREAM_SECRET,
      STREAM_API_BASE_URL: stream.baseURL,
      CLERK_JWT_ISSUER: issuer.issuer,
      CLERK_JWKS_URL: issuer.jwksUrl,
      CLERK_WEBHOOK_SECRET: SECRET,
      RATE_LIMIT_PER_IP: '100000000',
    });
    const signer = new Webhook(SECRET);
    const deliver = async (payload: Record<string, unknown>, id = `msg_${randomUUID()}`) => {
      const body = JSON.stringify(payload);
      const at = new Date();
      const res = await fetch(`${service.url}/webhooks/clerk`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'svix-id': id,
          'svix-timestamp': String(Math.floor(at.getTime() / 1000)),
          'svix-signature': signer.sign(id, at, body),
        },
        body,
      });
      await res.arrayBuffer();
      return res.status;
    };
    const tokenStatus = async (id: string) => {
      const res = await fetch(`${service.url}/stream/token`, { method: 'POST', headers: { authorization: `Bearer ${issuer.token(id)}` } });
      await res.arrayBuffer();
      return res.status;
    };
    try {
      const ids = Array.from({ length: USERS }, (_, i) => `user_chaos${i}${randomUUID().slice(0, 6)}`);
      const first = await Promise.all(ids.map(tokenStatus));
      const deletedAt = Date.now();
      const deliveries: Array<() => Promise<number>> = [];
      for (const id of ids) {
        const deletion = { type: 'user.deleted', object: 'event', timestamp: deletedAt, data: { id, object: 'user', deleted: true } };
        const stale = { type: 'user.updated', object: 'event', timestamp: deletedAt - 5000, data: user(id, deletedAt - 5000) };
        const deletionId = `msg_${randomUUID()}`;
        deliveries.push(
          () => deliver(deletion, deletionId),
          () => deliver(deletion, deletionId),
          () => deliver(stale),
          () => deliver(stale),
        );
      }
      deliveries.sort(() => Math.random() - 0.5);
      const statuses = await Promise.all(deliveries.map((d) => d()));
      const after = await Promise.all(ids.map(tokenStatus));
      const back = after.filter((s) => s === 200).length;
      return {
        lines: [
          `  first tokens: ${first.filter((s) => s === 200).length}/${USERS} 200; deliveries: ${deliveries.length}, answers ${[...new Set(statuses)].join(', ')}; tokens afterwards: ${after.join(',').replace(/(\d+)(,\1)*/g, (m, s: string) => `${s}×${m.split(',').length}`)}`,
        ],
        targets: [
          target(
            'every user got a token before',
            `${first.filter((s) => s === 200).length}/${USERS}`,
            first.every((s) => s === 200),
          ),
          target(
            'every delivery acknowledged (200)',
            `${statuses.filter((s) => s === 200).length}/${statuses.length}`,
            statuses.every((s) => s === 200),
          ),
          target('deleted users who can get a token afterwards: 0', `${back}/${USERS}`, back === 0),
        ],
      };
    } finally {
      await service.stop();
      await stream.close();
      await issuer.close();
    }
  },
};
