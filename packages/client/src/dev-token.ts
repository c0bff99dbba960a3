const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** `{"alg":"HS256","typ":"JWT"}`, the header `stream-chat` hard-codes in its development tokens. */
const DEV_TOKEN_HEADER = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9';

/**
 * Standard base64 with padding of the string's UTF-16 code units truncated to
 * bytes, which is what `stream-chat`'s `encodeBase64` does (it feeds
 * `charCodeAt` values into a `Uint8Array`).
 */
function encodeBase64(text: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i += 1) bytes.push(text.charCodeAt(i) & 0xff);
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i] as number;
    const b = bytes[i + 1];
    const c = bytes[i + 2];
    const triple = (a << 16) | ((b ?? 0) << 8) | (c ?? 0);
    out += BASE64_ALPHABET[(triple >> 18) & 63];
    out += BASE64_ALPHABET[(triple >> 12) & 63];
    out += b === undefined ? '=' : BASE64_ALPHABET[(triple >> 6) & 63];
    out += c === undefined ? '=' : BASE64_ALPHABET[triple & 63];
  }
  return out;
}

/**
 * The unsigned development token `StreamChat.devToken(userId)` returns, byte for
 * byte, without importing `stream-chat`. Stream accepts it only for apps with
 * "Disable Auth Checks" on: development only.
 */
export function unsignedDevToken(userId: string): string {
  return [DEV_TOKEN_HEADER, encodeBase64(JSON.stringify({ user_id: userId })), 'devtoken'].join('.');
}
