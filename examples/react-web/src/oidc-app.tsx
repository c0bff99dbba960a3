// src/oidc-app.tsx
import { AuthProvider, useAuth } from 'react-oidc-context';
import { ChatView } from './chat-view';
import { useStreamChat } from './use-stream-chat';

function OidcChat() {
  const auth = useAuth();
  const chat = useStreamChat({
    userId: auth.isAuthenticated ? auth.user?.profile.sub : null,
    // The auth-token source: the ID token as it is now; after a silent renew, the new one.
    getAuthToken: async () => auth.user?.id_token ?? null,
    name: auth.user?.profile.name,
    image: auth.user?.profile.picture,
  });
  const signIn = <button onClick={() => void auth.signinRedirect()}>Sign in</button>;
  return <ChatView chat={chat} signedOut={signIn} signOut={() => void auth.removeUser()} />;
}

export function OidcApp() {
  return (
    <AuthProvider
      authority={import.meta.env.VITE_OIDC_AUTHORITY}
      client_id={import.meta.env.VITE_OIDC_CLIENT_ID}
      redirect_uri={window.location.origin}
      scope="openid profile"
      onSigninCallback={() => window.history.replaceState({}, document.title, window.location.pathname)}
    >
      <OidcChat />
    </AuthProvider>
  );
}
