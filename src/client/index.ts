/**
 * `stream-token-service/client`: the token provider of the `stream-token-client`
 * package (packages/client), re-exported for apps that already depend on the
 * service package. New apps install `stream-token-client` alone: it has no
 * dependencies, where this package brings the server's.
 */
export * from 'stream-token-client';
