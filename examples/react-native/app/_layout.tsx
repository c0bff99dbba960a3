// app/_layout.tsx
import { ClerkProvider } from '@clerk/clerk-expo';
import { tokenCache } from '@clerk/clerk-expo/token-cache';
import { Stack } from 'expo-router';
import { GestureHandlerRootView } from 'react-native-gesture-handler';
import { SignInScreen } from '../sign-in-screen';
import { StreamChatProvider } from '../stream-chat-provider';

export default function RootLayout() {
  return (
    <ClerkProvider publishableKey={process.env.EXPO_PUBLIC_CLERK_PUBLISHABLE_KEY!} tokenCache={tokenCache}>
      <GestureHandlerRootView style={{ flex: 1 }}>
        <StreamChatProvider signedOut={<SignInScreen />}>
          <Stack />
        </StreamChatProvider>
      </GestureHandlerRootView>
    </ClerkProvider>
  );
}
