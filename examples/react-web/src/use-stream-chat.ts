// src/use-stream-chat.ts
import { useEffect, useRef, useState } from 'react';
import { StreamChat } from 'stream-chat';
import { createTokenProvider, findStreamTokenError, type StreamTokenError } from 'stream-token-client';

const STREAM_API_KEY = import.meta.env.VITE_STREAM_API_KEY;
const TOKEN_SERVICE_URL = import.meta.env.VITE_STREAM_TOKEN_SERVICE_URL;
// Unset in apps; the example's browser test points the SDK at a local stand-in of Stream's API.
const STREAM_BASE_URL = import.meta.env.VITE_STREAM_BASE_URL;

export type StreamChatState =
  | { status: 'signed-out' }
  | { status: 'connecting' }
  | { status: 'connected'; client: StreamChat; userId: string }
  | { status: 'failed'; message: string; canRetry: boolean; requestId?: string };

export interface UseStreamChatOptions {
  /** The signed-in user's id, the `user_id` the service puts in Stream tokens; null when signed out. */
  userId: string | null | undefined;
  /** The auth-token source: the identity provider's current session token (Clerk: getToken()); null when signed out. */
  getAuthToken: () => Promise<string | null | undefined>;
  name?: string;
  image?: string;
}

function describe(error: StreamTokenError): { message: string; canRetry: boolean } {
  if (error.status === 403) return { message: 'Chat is not available for this account.', canRetry: false };
  if (error.status === 401) return { message: 'Your session has ended. Please sign in again.', canRetry: false };
  if (error.code === 'rate_limited') return { message: 'Too many attempts. Try again in a minute.', canRetry: true };
  return { message: 'Chat is unavailable right now. Check your connection and try again.', canRetry: true };
}

// A connect waits for the previous disconnect to finish: stream-chat resets its token state when a
// disconnect completes, which must not land after the next connectUser has started.
let lastDisconnect: Promise<void> = Promise.resolve();

/** Connects the signed-in user to Stream Chat with tokens from stream-token-service; disconnects on sign-out. */
export function useStreamChat({ userId, getAuthToken, name, image }: UseStreamChatOptions): StreamChatState & { retry(): void } {
  const [state, setState] = useState<StreamChatState>({ status: 'signed-out' });
  const [attempt, setAttempt] = useState(0);
  // The latest values, read through refs so the connection is not rebuilt on every render.
  const getAuthTokenRef = useRef(getAuthToken);
  getAuthTokenRef.current = getAuthToken;
  const profileRef = useRef({ name, image });
  profileRef.current = { name, image };

  useEffect(() => {
    if (!userId) {
      setState({ status: 'signed-out' });
      return;
    }
    const client = new StreamChat(STREAM_API_KEY, STREAM_BASE_URL ? { baseURL: STREAM_BASE_URL } : {});
    let active = true;
    const fail = (error: unknown) => {
      const tokenError = findStreamTokenError(error);
      if (!active || tokenError?.code === 'missing_token') return; // signing out
      setState({
        status: 'failed',
        ...(tokenError ? describe(tokenError) : { message: 'Could not connect to chat.', canRetry: true }),
        ...(tokenError?.requestId ? { requestId: tokenError.requestId } : {}),
      });
    };

    const fetchToken = createTokenProvider({
      endpoint: TOKEN_SERVICE_URL,
      getAuthToken: () => getAuthTokenRef.current(),
      // Development only: unsigned devToken when the service cannot be reached at all. Never in production.
      devFallback: import.meta.env.DEV && import.meta.env.VITE_STREAM_DEV_FALLBACK === 'true' ? { userId } : undefined,
    });
    // stream-chat calls this again whenever the Stream token expires. A refusal later in the session
    // (the identity provider's session was revoked) stops its reconnecting; show it.
    const tokenProvider = async () => {
      try {
        return await fetchToken();
      } catch (error) {
        const tokenError = findStreamTokenError(error);
        if (tokenError?.status === 401 || tokenError?.status === 403) fail(tokenError);
        throw error;
      }
    };

    setState({ status: 'connecting' });
    (async () => {
      await lastDisconnect;
      if (!active) return;
      await client.connectUser({ id: userId, ...profileRef.current }, tokenProvider);
      if (active) setState({ status: 'connected', client, userId });
    })().catch(fail);

    return () => {
      active = false;
      lastDisconnect = client.disconnectUser().catch(() => undefined);
    };
  }, [userId, attempt]);

  return { ...state, retry: () => setAttempt((n) => n + 1) };
}
