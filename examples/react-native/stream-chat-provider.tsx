// stream-chat-provider.tsx
import { useAuth, useUser } from '@clerk/clerk-expo';
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { ActivityIndicator, Button, StyleSheet, Text, View } from 'react-native';
import { StreamChat } from 'stream-chat';
import { Chat, OverlayProvider } from 'stream-chat-expo';
import { createTokenProvider, findStreamTokenError, type StreamTokenError } from 'stream-token-client';

const STREAM_API_KEY = process.env.EXPO_PUBLIC_STREAM_API_KEY!;
const TOKEN_SERVICE_URL = process.env.EXPO_PUBLIC_STREAM_TOKEN_SERVICE_URL!;

type ChatState =
  | { status: 'signed-out' }
  | { status: 'connecting' }
  | { status: 'connected'; client: StreamChat }
  | { status: 'failed'; message: string; canRetry: boolean };

/** What to tell the user about a failed token request; `code` is stable (see docs/errors.md). */
function describe(error: StreamTokenError): { message: string; canRetry: boolean } {
  if (error.status === 403) return { message: 'Chat is not available for this account.', canRetry: false };
  if (error.status === 401) return { message: 'Your session has ended. Please sign in again.', canRetry: false };
  if (error.code === 'rate_limited') return { message: 'Too many attempts. Try again in a minute.', canRetry: true };
  return { message: 'Chat is unavailable right now. Check your connection and try again.', canRetry: true };
}

// A connect waits for the previous disconnect to finish: stream-chat resets its token state when a
// disconnect completes, which must not land after the next connectUser has started.
let lastDisconnect: Promise<void> = Promise.resolve();

/** Renders `children` inside Stream's `Chat` once the signed-in user is connected, `signedOut` before. */
export function StreamChatProvider({ children, signedOut }: { children: ReactNode; signedOut: ReactNode }) {
  const { isLoaded, isSignedIn, userId, getToken, signOut } = useAuth();
  const { user } = useUser();
  const [state, setState] = useState<ChatState>({ status: 'signed-out' });
  const [attempt, setAttempt] = useState(0);

  // getToken may be a new function on every render; read the latest one through a ref so the
  // token provider stays the same for the whole connection.
  const getTokenRef = useRef(getToken);
  getTokenRef.current = getToken;
  const profileRef = useRef({ name: user?.fullName ?? undefined, image: user?.imageUrl });
  profileRef.current = { name: user?.fullName ?? undefined, image: user?.imageUrl };

  useEffect(() => {
    if (!isLoaded) return;
    if (!isSignedIn || !userId) {
      setState({ status: 'signed-out' });
      return;
    }

    const client = StreamChat.getInstance(STREAM_API_KEY);
    let active = true;
    const fail = (error: unknown) => {
      const tokenError = findStreamTokenError(error);
      if (!active || tokenError?.code === 'missing_token') return; // signing out: nothing to show
      setState({ status: 'failed', ...(tokenError ? describe(tokenError) : { message: 'Could not connect to chat.', canRetry: true }) });
    };

    const fetchToken = createTokenProvider({
      endpoint: TOKEN_SERVICE_URL,
      // The auth-token source: Clerk's session token, fetched fresh for every Stream token.
      getAuthToken: () => getTokenRef.current(),
      // Development only: if the service cannot be reached at all, fall back to the unsigned
      // devToken (works only while "Disable Auth Checks" is on). Never in release builds.
      devFallback: __DEV__ && process.env.EXPO_PUBLIC_STREAM_DEV_FALLBACK === 'true' ? { userId } : undefined,
    });
    // stream-chat calls this again whenever the Stream token expires. A refusal later in the
    // session (the Clerk session was revoked) stops its reconnecting; show it here.
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
      if (active) setState({ status: 'connected', client });
    })().catch(fail);

    return () => {
      // Signed out, another user signed in, or the provider unmounted: close the socket.
      active = false;
      lastDisconnect = client.disconnectUser().catch(() => undefined);
    };
  }, [isLoaded, isSignedIn, userId, attempt]);

  switch (state.status) {
    case 'signed-out':
      // Until the effect has started connecting, a signed-in user sees the spinner, not the sign-in.
      return isSignedIn ? <Connecting /> : <>{signedOut}</>;
    case 'connecting':
      return <Connecting />;
    case 'failed':
      return (
        <View style={styles.center}>
          <Text style={styles.message}>{state.message}</Text>
          {state.canRetry ? <Button title="Try again" onPress={() => setAttempt((n) => n + 1)} /> : null}
          <Button title="Sign out" onPress={() => void signOut()} />
        </View>
      );
    case 'connected':
      return (
        <OverlayProvider>
          <Chat client={state.client}>{children}</Chat>
        </OverlayProvider>
      );
  }
}

function Connecting() {
  return (
    <View style={styles.center}>
      <ActivityIndicator size="large" />
    </View>
  );
}

const styles = StyleSheet.create({
  center: { flex: 1, alignItems: 'center', justifyContent: 'center', gap: 12, padding: 24 },
  message: { fontSize: 16, textAlign: 'center' },
});
