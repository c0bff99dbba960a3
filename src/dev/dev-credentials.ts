import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DevStreamCredentials {
  apiKey: string;
  apiSecret: string;
}

/**
 * Placeholder Stream credentials for dev mode without a Stream app: generated
 * once and kept in the git-ignored dev directory so tokens stay valid across
 * restarts. Real Stream rejects them; they exist so the whole flow can be
 * tried locally.
 */
export function loadOrCreateDevStreamCredentials(directory: string): DevStreamCredentials {
  const path = join(directory, 'stream-credentials.json');
  try {
    const stored = JSON.parse(readFileSync(path, 'utf8')) as Partial<DevStreamCredentials>;
    if (typeof stored.apiKey === 'string' && typeof stored.apiSecret === 'string') {
      return { apiKey: stored.apiKey, apiSecret: stored.apiSecret };
    }
  } catch {
    // absent or unreadable: make new ones below
  }
  const created = {
    apiKey: `dev${randomBytes(8).toString('hex')}`,
    apiSecret: randomBytes(32).toString('base64url'),
  };
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  writeFileSync(path, `${JSON.stringify(created, null, 2)}\n`, { mode: 0o600 });
  return created;
}
