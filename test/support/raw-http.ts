import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';

/** What came back on a raw connection, and when the server closed it. */
export interface RawExchange {
  /** Everything the server sent, as text. */
  text: string;
  /** The status of the first response, or null if none came. */
  status: number | null;
  /** Header lines of the first response, lower-cased names. */
  headers: Record<string, string>;
  /** Body of the first response. */
  body: string;
  /** Milliseconds from connecting until the server closed the connection; null if it was still open at `giveUpMs`. */
  closedAfterMs: number | null;
}

/** Listens on a free loopback port (if not already listening) and returns it. */
export async function listeningPort(app: FastifyInstance): Promise<number> {
  if (!app.server.listening) await app.listen({ host: '127.0.0.1', port: 0 });
  return (app.server.address() as AddressInfo).port;
}

/**
 * Writes `parts` on a fresh connection, then waits for the server to close it (at most `giveUpMs`),
 * without ever ending the request: what a stalled or hostile client looks like.
 */
export async function rawExchange(port: number, parts: Array<string | Buffer>, giveUpMs = 5000): Promise<RawExchange> {
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  const started = performance.now();
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const closedAfterMs = await new Promise<number | null>((resolve) => {
    const giveUp = setTimeout(() => {
      socket.destroy();
      resolve(null);
    }, giveUpMs);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(giveUp);
      resolve(performance.now() - started);
    });
    socket.on('connect', () => {
      for (const part of parts) socket.write(part);
    });
  });
  const text = Buffer.concat(chunks).toString('latin1');
  const [head = '', ...rest] = text.split('\r\n\r\n');
  const [statusLine = '', ...headerLines] = head.split('\r\n');
  const status = /^HTTP\/1\.1 (\d{3}) /.exec(statusLine)?.[1];
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { text, status: status === undefined ? null : Number(status), headers, body: rest.join('\r\n\r\n'), closedAfterMs };
}
