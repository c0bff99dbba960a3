/**
 * Clerk's credentials look alike in a dashboard and in an environment file;
 * their prefixes tell them apart. A credential set in another's variable is
 * named by its prefix only, never by its value.
 */

export type ClerkCredential = 'publishable key' | 'secret key' | 'webhook signing secret';

/** What a Clerk variable holds: a Clerk credential, or something that is not one. */
export type ClerkSlot = ClerkCredential | 'PEM public key' | 'host name';

const CREDENTIALS: ReadonlyArray<{ kind: ClerkCredential; prefix: RegExp; variable: string }> = [
  { kind: 'publishable key', prefix: /^pk_(?:test|live)_/, variable: 'CLERK_PUBLISHABLE_KEY' },
  { kind: 'secret key', prefix: /^sk_(?:test|live)_/, variable: 'CLERK_SECRET_KEY' },
  { kind: 'webhook signing secret', prefix: /^whsec_/, variable: 'CLERK_WEBHOOK_SECRET' },
];

const EXPECTED: Record<ClerkSlot, string> = {
  'publishable key': 'the publishable key (pk_test_… or pk_live_…) from Clerk dashboard → API keys',
  'secret key': 'the secret key (sk_test_… or sk_live_…) from Clerk dashboard → API keys',
  'webhook signing secret': 'the signing secret (whsec_…) from Clerk dashboard → Webhooks → your endpoint',
  'PEM public key': 'the "PEM Public Key" from Clerk dashboard → API keys → Show JWT public key',
  'host name': 'the Frontend API host from Clerk dashboard, e.g. your-app.clerk.accounts.dev',
};

/**
 * The problem when `value`, set in a variable meant for `slot`, is another kind of Clerk
 * credential: a secret key in the publishable key's place, a publishable key in a secret's. Null
 * when it is not a Clerk credential of another kind (other checks judge it then).
 */
export function misplacedClerkCredential(slot: ClerkSlot, value: string): { message: string; fix: string } | null {
  for (const credential of CREDENTIALS) {
    const prefix = credential.prefix.exec(value)?.[0];
    if (prefix === undefined || credential.kind === slot) continue;
    const secret = credential.kind !== 'publishable key';
    return {
      message: `holds a Clerk ${credential.kind} (${prefix}…), not ${slot === 'PEM public key' || slot === 'host name' ? 'a' : 'the'} ${slot}`,
      fix: `set it to ${EXPECTED[slot]}; the ${credential.kind} belongs in ${credential.variable}${secret ? ', which is secret' : ''}`,
    };
  }
  return null;
}
