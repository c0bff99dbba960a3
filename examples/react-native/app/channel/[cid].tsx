// app/channel/[cid].tsx
import { useLocalSearchParams } from 'expo-router';
import { Channel, MessageComposer, MessageList, useChatContext } from 'stream-chat-expo';

export default function ChannelScreen() {
  const { cid } = useLocalSearchParams<{ cid: string }>();
  const { client } = useChatContext();
  const [type, id] = cid.split(':');
  if (!type || !id) return null;
  return (
    <Channel channel={client.channel(type, id)}>
      <MessageList />
      <MessageComposer />
    </Channel>
  );
}
