// src/clerk-app.tsx
import { ClerkProvider, SignIn, useAuth, useClerk, useUser } from '@clerk/react';
import { ChatView } from './chat-view';
import { useStreamChat } from './use-stream-chat';

function ClerkChat() {
  const { isLoaded, isSignedIn, userId, getToken } = useAuth();
  const { user } = useUser();
  const { signOut } = useClerk();
  const chat = useStreamChat({
    userId: isLoaded && isSignedIn ? userId : null,
    // The auth-token source: Clerk's session token, fetched fresh for every Stream token.
    getAuthToken: () => getToken(),
    name: user?.fullName ?? undefined,
    image: user?.imageUrl,
  });
  return <ChatView chat={chat} signedOut={<SignIn />} signOut={() => void signOut()} />;
}

export function ClerkApp() {
  return (
    <ClerkProvider publishableKey={import.meta.env.VITE_CLERK_PUBLISHABLE_KEY}>
      <ClerkChat />
    </ClerkProvider>
  );
}
