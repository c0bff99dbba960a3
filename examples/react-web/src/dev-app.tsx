// src/dev-app.tsx
import { useState, type FormEvent } from 'react';
import { ChatView } from './chat-view';
import { useStreamChat } from './use-stream-chat';

const TOKEN_SERVICE_URL = import.meta.env.VITE_STREAM_TOKEN_SERVICE_URL;

/** A session token from the token service's dev mode (`npm run dev`), which signs one for any user id. */
async function devSessionToken(userId: string): Promise<string> {
  const response = await fetch(`${TOKEN_SERVICE_URL}/dev/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user_id: userId }),
  });
  if (!response.ok) throw new Error(`POST /dev/token answered ${response.status}`);
  return ((await response.json()) as { token: string }).token;
}

/** Sign-in without an identity provider, for local work and the browser test; the service has no /dev routes outside dev mode. */
export function DevApp() {
  const [userId, setUserId] = useState<string | null>(null);
  const chat = useStreamChat({
    userId,
    // The auth-token source: a dev session token for whoever is signed in here.
    getAuthToken: async () => (userId ? devSessionToken(userId) : null),
  });
  const signIn = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const id = new FormData(event.currentTarget).get('user-id');
    if (typeof id === 'string' && id !== '') setUserId(id);
  };
  const signInForm = (
    <form onSubmit={signIn}>
      <label>
        User id <input name="user-id" required pattern="[\w@\-]+" />
      </label>
      <button type="submit">Sign in</button>
    </form>
  );
  return <ChatView chat={chat} signedOut={signInForm} signOut={() => setUserId(null)} />;
}
