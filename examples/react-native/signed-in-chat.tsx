// signed-in-chat.tsx
import { useAuth } from '@clerk/clerk-expo';
import { useMemo, useRef, type ReactNode } from 'react';
import { Chat, OverlayProvider, useCreateChatClient } from 'stream-chat-expo';
import { createTokenProvider } from 'stream-token-client';

/** Stream's own hook with the same token provider; render it only while signed in. */
export function SignedInChat({ userId, children }: { userId: string; children: ReactNode }) {
  const { getToken } = useAuth();
  const getTokenRef = useRef(getToken);
  getTokenRef.current = getToken;
  // The hook reconnects whenever tokenOrProvider changes identity: one provider per user.
  const tokenProvider = useMemo(
    () => createTokenProvider({ endpoint: process.env.EXPO_PUBLIC_STREAM_TOKEN_SERVICE_URL!, getAuthToken: () => getTokenRef.current() }),
    [userId],
  );
  const userData = useMemo(() => ({ id: userId }), [userId]);
  const client = useCreateChatClient({ apiKey: process.env.EXPO_PUBLIC_STREAM_API_KEY!, tokenOrProvider: tokenProvider, userData });
  if (!client) return null; // connecting
  return (
    <OverlayProvider>
      <Chat client={client}>{children}</Chat>
    </OverlayProvider>
  );
}
