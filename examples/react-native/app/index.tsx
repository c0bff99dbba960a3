// app/index.tsx
import { useAuth } from '@clerk/clerk-expo';
import { Stack, useRouter } from 'expo-router';
import { Button } from 'react-native';
import { ChannelList } from 'stream-chat-expo';

export default function ChannelsScreen() {
  const { userId, signOut } = useAuth();
  const router = useRouter();
  return (
    <>
      <Stack.Screen options={{ title: 'Chats', headerRight: () => <Button title="Sign out" onPress={() => void signOut()} /> }} />
      <ChannelList
        filters={{ members: { $in: [userId ?? ''] } }}
        sort={{ last_message_at: -1 }}
        onSelect={(channel) => router.push({ pathname: '/channel/[cid]', params: { cid: channel.cid } })}
      />
    </>
  );
}
