/**
 * Strict base64url (RFC 4648 §5) as used by JWS compact serialization
 * (RFC 7515 §2): only `[A-Za-z0-9_-]`, no padding, no whitespace, and only
 * the canonical encoding of each byte string.
 *
 * Canonical means the unused low bits of the final character are zero. A
 * lenient decoder maps `eA`, `eB`, … `eP` to the same byte, so an attacker
 * could change the text of a token (and with it any cache key, log
 * correlation or replay check built from that text) without changing the
 * bytes that were signed. Refusing non-canonical input makes the mapping
 * between token text and signed bytes one-to-one.
 */

import { isUtf8 } from 'node:buffer';

/** Character code → 6-bit value, or -1 for characters outside the alphabet. */
const DECODE_TABLE: Int8Array = (() => {
  const table = new Int8Array(128).fill(-1);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = i;
  return table;
})();

const BASE64URL_TEXT = /^[A-Za-z0-9_-]*$/;

/**
 * The length and final-character rules of canonical base64url for
 * `input[start, end)`, once every character in the range is known to be in
 * the alphabet: a length of 4n+1 is never valid, and the unused low bits of
 * the last character must be zero.
 */
function hasCanonicalBase64UrlEnd(input: string, start: number, end: number): boolean {
  const remainder = (end - start) & 3;
  if (end < start || remainder === 1) return false;
  if (remainder === 0) return true;
  const last = DECODE_TABLE[input.charCodeAt(end - 1)] ?? -1;
  if (last < 0) return false;
  // 2 trailing characters carry 12 bits for 1 byte: the low 4 bits are unused.
  // 3 trailing characters carry 18 bits for 2 bytes: the low 2 bits are unused.
  return remainder === 2 ? (last & 0x0f) === 0 : (last & 0x03) === 0;
}

/**
 * Whether `input[start, end)` is canonical unpadded base64url. The empty
 * range is valid (it encodes zero bytes); callers that need content check
 * the length themselves.
 */
export function isBase64UrlRange(input: string, start: number, end: number): boolean {
  if (end < start || ((end - start) & 3) === 1) return false;
  for (let i = start; i < end; i++) {
    const code = input.charCodeAt(i);
    if (code >= 128 || DECODE_TABLE[code]! < 0) return false;
  }
  return hasCanonicalBase64UrlEnd(input, start, end);
}

/** Whether `input` is canonical unpadded base64url. */
export function isBase64Url(input: string): boolean {
  return typeof input === 'string' && BASE64URL_TEXT.test(input) && hasCanonicalBase64UrlEnd(input, 0, input.length);
}

/**
 * Decodes `input[start, end)`, or returns null when the text is not canonical
 * unpadded base64url. Node's decoder is lenient: it skips characters it does
 * not know, reads `+` and `/`, stops at `=`, drops a lone final character and
 * unused low bits, and reads a character above U+00FF by its low byte (`Ł`,
 * U+0141, as `A`). What it decodes always encodes back to canonical
 * base64url, so the comparison holds only when the input was canonical,
 * whatever the decoder made of it. One native decode and one native encode
 * cost less than checking every character in JavaScript.
 */
export function decodeBase64UrlRange(input: string, start: number, end: number): Buffer | null {
  const text = input.substring(start, end);
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : null;
}

/** Decodes canonical base64url; throws `TypeError` for anything else. */
export function decodeBase64Url(input: string): Buffer {
  if (!isBase64Url(input)) throw new TypeError('input is not canonical unpadded base64url');
  return Buffer.from(input, 'base64url');
}

/**
 * Decodes bytes as UTF-8 and throws `TypeError` on invalid sequences instead
 * of substituting U+FFFD (two different byte strings must not become the same
 * text). A leading byte-order mark is kept, so JSON parsing then refuses it.
 * Validation and decoding are both native (`buffer.isUtf8`, then a plain
 * UTF-8 decode that can no longer meet an invalid sequence).
 */
export function decodeUtf8Strict(bytes: Uint8Array): string {
  if (!isUtf8(bytes)) throw new TypeError('The encoded data was not valid for encoding utf-8');
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return buffer.toString('utf8');
}

/** Decodes canonical base64url holding UTF-8 text; throws `TypeError` on either failure. */
export function decodeBase64UrlToString(input: string): string {
  return decodeUtf8Strict(decodeBase64Url(input));
}

/** Encodes bytes (or a string as UTF-8) to unpadded base64url. */
export function encodeBase64Url(input: Uint8Array | string): string {
  if (typeof input === 'string') return Buffer.from(input, 'utf8').toString('base64url');
  return Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('base64url');
}
