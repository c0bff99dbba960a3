// src/chat-view.tsx
import type { ReactNode } from 'react';
import { Channel, ChannelHeader, ChannelList, Chat, MessageComposer, MessageList, Thread, Window } from 'stream-chat-react';
import type { useStreamChat } from './use-stream-chat';

export interface ChatViewProps {
  chat: ReturnType<typeof useStreamChat>;
  /** What to show while nobody is signed in: the identity provider's sign-in. */
  signedOut: ReactNode;
  signOut: () => void;
}

/** The chat for the connected user, or where getting there stands. The same for every identity provider. */
export function ChatView({ chat, signedOut, signOut }: ChatViewProps) {
  switch (chat.status) {
    case 'signed-out':
      return <>{signedOut}</>;
    case 'connecting':
      return <p role="status">Connecting to chat…</p>;
    case 'failed':
      return (
        <div role="alert">
          <p>{chat.message}</p>
          {chat.requestId ? <p><small>Reference: {chat.requestId}</small></p> : null}
          {chat.canRetry ? <button onClick={chat.retry}>Try again</button> : null}
          <button onClick={signOut}>Sign out</button>
        </div>
      );
    case 'connected':
      return (
        <Chat client={chat.client}>
          <div className="chat">
            <header className="chat-bar">
              <span>{chat.userId}</span>
              <button onClick={signOut}>Sign out</button>
            </header>
            <div className="chat-panes">
              <ChannelList filters={{ members: { $in: [chat.userId] } }} sort={{ last_message_at: -1 }} />
              <Channel>
                <Window>
                  <ChannelHeader />
                  <MessageList />
                  <MessageComposer />
                </Window>
                <Thread />
              </Channel>
            </div>
          </div>
        </Chat>
      );
  }
}
