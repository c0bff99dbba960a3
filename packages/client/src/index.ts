/**
 * `stream-token-client`: get Stream Chat user tokens from stream-token-service
 * in browsers, React Native and Node.js. No Node.js APIs, no dependencies; the
 * global `fetch` unless one is passed.
 *
 *   import { StreamChat } from 'stream-chat';
 *   import { createTokenProvider } from 'stream-token-client';
 *
 *   const tokenProvider = createTokenProvider({
 *     endpoint: 'https://chat-auth.example.com',
 *     getAuthToken: () => getToken(), // Clerk's useAuth().getToken
 *   });
 *   await chatClient.connectUser({ id: userId }, tokenProvider);
 */
export { createTokenProvider } from './provider.js';
export type { DevFallbackOptions, RetryOptions, TokenProvider, TokenProviderOptions } from './provider.js';
export { fetchStreamToken } from './fetch-token.js';
export type { FetchInitLike, FetchLike, FetchResponseLike, FetchStreamTokenOptions, StreamTokenResult } from './fetch-token.js';
export { StreamTokenError, findStreamTokenError } from './errors.js';
export type { StreamTokenErrorCode, StreamTokenErrorInit } from './errors.js';
