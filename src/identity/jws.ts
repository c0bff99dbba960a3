import { constants, verify as cryptoVerify, type KeyObject, type VerifyKeyObjectInput } from 'node:crypto';
import { decodeBase64UrlRange, decodeUtf8Strict } from './base64url.js';
import { SessionTokenError } from './errors.js';
import type { AsymmetricAlgorithm } from './types.js';
import { isRecord } from '../shared/is-record.js';

/** Longest compact JWS accepted, in characters. Session tokens are far smaller. */
export const MAX_TOKEN_LENGTH = 8192;

export type JsonObject = Record<string, unknown>;

/** An own member of a decoded JSON object; inherited properties never count. */
export function ownMember(object: JsonObject, name: string): unknown {
  return Object.hasOwn(object, name) ? object[name] : undefined;
}

/** A compact JWS split into its parts. Nothing in it is verified yet. */
export interface ParsedJws {
  header: JsonObject;
  payload: JsonObject;
  /** ASCII bytes of `<header>.<payload>`, the data the signature covers. */
  signingInput: Buffer;
  signature: Buffer;
}

/** Every asymmetric algorithm the verifier accepts; the configuration's `algorithms` field allows these. */
export const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const satisfies readonly AsymmetricAlgorithm[];
const ALGORITHMS: ReadonlySet<string> = new Set<string>(ASYMMETRIC_ALGORITHMS);

/** Whether `value` names an asymmetric algorithm this module can verify. */
export function isAsymmetricAlgorithm(value: unknown): value is AsymmetricAlgorithm {
  return typeof value === 'string' && ALGORITHMS.has(value);
}

function malformed(message: string): SessionTokenError {
  return new SessionTokenError('malformed_token', message);
}

/**
 * Checks the shape of a compact JWS (RFC 7515 §7.1): at most
 * {@link MAX_TOKEN_LENGTH} characters and exactly three non-empty segments.
 * Returns the index of the first dot (the second is `token.lastIndexOf('.')`).
 * Throws `SessionTokenError('malformed_token')`; the segments' characters are
 * not looked at.
 */
export function splitCompactJws(token: string): number {
  if (typeof token !== 'string') throw malformed('The token is not a string.');
  const length = token.length;
  if (length > MAX_TOKEN_LENGTH) throw malformed('The token is too long.');
  const firstDot = token.indexOf('.');
  const secondDot = firstDot < 0 ? -1 : token.indexOf('.', firstDot + 1);
  if (secondDot < 0 || token.indexOf('.', secondDot + 1) >= 0) {
    throw malformed('The token must have exactly three segments.');
  }
  if (firstDot === 0 || secondDot === firstDot + 1 || secondDot === length - 1) {
    throw malformed('A token segment is empty.');
  }
  return firstDot;
}

function notCanonical(): SessionTokenError {
  return malformed('A token segment is not canonical base64url.');
}

function parseJsonObject(bytes: Buffer, part: 'header' | 'payload'): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(decodeUtf8Strict(bytes));
  } catch {
    throw malformed(`The token ${part} is not valid JSON.`);
  }
  if (!isRecord(value)) {
    throw malformed(`The token ${part} is not a JSON object.`);
  }
  return value;
}

/** The JSON of a compact JWS whose text {@link readCompactJws} accepted. */
export interface CompactJwsJson {
  /** null when the caller already knew the header segment. */
  header: JsonObject | null;
  payload: JsonObject;
}

/**
 * After {@link splitCompactJws} returned `firstDot` (`secondDot` being
 * `token.lastIndexOf('.')`): checks that every
 * segment is canonical base64url, then reads the header (unless
 * `headerKnown`) and the payload as JSON objects encoded as valid UTF-8, in
 * that order, decoding each segment once. `headerKnown` may only be true when
 * this exact header segment passed these checks before; its text is then not
 * checked again. Throws `SessionTokenError('malformed_token')`.
 */
export function readCompactJws(token: string, firstDot: number, secondDot: number, headerKnown: false): { header: JsonObject; payload: JsonObject };
export function readCompactJws(token: string, firstDot: number, secondDot: number, headerKnown: boolean): CompactJwsJson;
export function readCompactJws(token: string, firstDot: number, secondDot: number, headerKnown: boolean): CompactJwsJson {
  const headerBytes = headerKnown ? null : decodeBase64UrlRange(token, 0, firstDot);
  if (!headerKnown && headerBytes === null) throw notCanonical();
  const payloadBytes = decodeBase64UrlRange(token, firstDot + 1, secondDot);
  if (payloadBytes === null || decodeBase64UrlRange(token, secondDot + 1, token.length) === null) throw notCanonical();
  const header = headerBytes === null ? null : parseJsonObject(headerBytes, 'header');
  return { header, payload: parseJsonObject(payloadBytes, 'payload') };
}

/**
 * Splits a compact JWS (RFC 7515 §7.1) into header, payload and signature.
 * Throws `SessionTokenError('malformed_token')` unless the token is at most
 * {@link MAX_TOKEN_LENGTH} characters, has exactly three non-empty segments of
 * canonical base64url, and the header and payload are JSON objects encoded
 * as valid UTF-8.
 */
export function parseCompactJws(token: string): ParsedJws {
  const firstDot = splitCompactJws(token);
  const secondDot = token.lastIndexOf('.');
  const { header, payload } = readCompactJws(token, firstDot, secondDot, false);
  // Every character is now known to be ASCII, so latin1 is an exact byte copy.
  const signingInput = Buffer.from(token.substring(0, secondDot), 'latin1');
  const signature = Buffer.from(token.substring(secondDot + 1), 'base64url');
  return { header, payload, signingInput, signature };
}

/** How to verify one algorithm with one key; built once per (key, alg) pair. */
interface VerifyPlan {
  digest: string | null;
  key: KeyObject | VerifyKeyObjectInput;
  signatureLength: number;
}

const EC_CURVES: Readonly<Record<string, string>> = { ES256: 'prime256v1', ES384: 'secp384r1', ES512: 'secp521r1' };
const EC_SIGNATURE_LENGTHS: Readonly<Record<string, number>> = { ES256: 64, ES384: 96, ES512: 132 };
const MIN_RSA_BITS = 2048;
const DIGEST_BYTES: Readonly<Record<string, number>> = { sha256: 32, sha384: 48, sha512: 64 };

/** An odd public exponent of at least 3 (65537 in practice); 1 or an even one makes signatures forgeable or meaningless. */
function usableRsaExponent(exponent: bigint | undefined): boolean {
  return exponent !== undefined && exponent >= 3n && exponent % 2n === 1n;
}

function digestOf(alg: AsymmetricAlgorithm): string {
  return alg.endsWith('384') ? 'sha384' : alg.endsWith('512') ? 'sha512' : 'sha256';
}

function buildPlan(key: KeyObject, alg: AsymmetricAlgorithm): VerifyPlan | null {
  if (key.type !== 'public') return null;
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  const family = alg.slice(0, 2);
  if (family === 'RS' || family === 'PS') {
    const bits = details.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS || !usableRsaExponent(details.publicExponent)) return null;
    const digest = digestOf(alg);
    const signatureLength = Math.ceil(bits / 8);
    if (family === 'RS') {
      if (type !== 'rsa') return null;
      return { digest, key: { key, padding: constants.RSA_PKCS1_PADDING }, signatureLength };
    }
    if (type === 'rsa-pss') {
      // A key restricted to other PSS parameters cannot verify this algorithm.
      if (details.hashAlgorithm !== undefined && details.hashAlgorithm !== digest) return null;
      if (details.mgf1HashAlgorithm !== undefined && details.mgf1HashAlgorithm !== digest) return null;
      // JWS salts are the digest's length (RFC 7518 §3.5); a key demanding a longer salt never verifies one.
      if (details.saltLength !== undefined && details.saltLength > DIGEST_BYTES[digest]!) return null;
    } else if (type !== 'rsa') {
      return null;
    }
    return {
      digest,
      key: { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST },
      signatureLength,
    };
  }
  if (family === 'ES') {
    if (type !== 'ec' || details.namedCurve !== EC_CURVES[alg]) return null;
    return { digest: digestOf(alg), key: { key, dsaEncoding: 'ieee-p1363' }, signatureLength: EC_SIGNATURE_LENGTHS[alg]! };
  }
  if (alg === 'EdDSA' || alg === 'Ed25519') {
    if (type === 'ed25519') return { digest: null, key, signatureLength: 64 };
    // RFC 9864's Ed25519 names one curve; only the older, polymorphic EdDSA covers Ed448 too.
    if (type === 'ed448' && alg === 'EdDSA') return { digest: null, key, signatureLength: 114 };
  }
  return null;
}

const planCache = new WeakMap<KeyObject, Map<AsymmetricAlgorithm, VerifyPlan | null>>();

function planFor(key: KeyObject, alg: AsymmetricAlgorithm): VerifyPlan | null {
  let plans = planCache.get(key);
  if (plans === undefined) {
    plans = new Map();
    planCache.set(key, plans);
  }
  let plan = plans.get(alg);
  if (plan === undefined) {
    plan = buildPlan(key, alg);
    plans.set(alg, plan);
  }
  return plan;
}

/**
 * Whether `key` may verify `alg`: an RSA public key of at least 2048 bits,
 * with an odd public exponent of at least 3, for RS* and PS*, an EC public
 * key on the algorithm's curve for ES*, an Ed25519 or Ed448 public key for
 * EdDSA, an Ed25519 public key for Ed25519 (RFC 9864). Any other pairing is
 * refused, because `node:crypto` would otherwise happily verify with
 * whatever the key allows.
 */
export function keyFitsAlgorithm(key: KeyObject, alg: AsymmetricAlgorithm): boolean {
  return planFor(key, alg) !== null;
}

/**
 * Verifies a JWS signature. Returns false (never throws) when the key does
 * not fit the algorithm, the signature has the wrong length, or it does not
 * verify.
 */
export function verifyJwsSignature(alg: AsymmetricAlgorithm, key: KeyObject, signingInput: Uint8Array, signature: Uint8Array): boolean {
  const plan = planFor(key, alg);
  if (plan === null || signature.length !== plan.signatureLength) return false;
  try {
    return cryptoVerify(plan.digest, signingInput, plan.key, signature);
  } catch {
    return false;
  }
}

/**
 * {@link verifyJwsSignature} straight from the text of a token that
 * {@link readCompactJws} accepted, `secondDot` being the index of its second
 * dot. Only for accepted text: the signing input is copied as latin1, which
 * is byte for byte only for ASCII.
 */
export function verifyCompactJwsSignature(alg: AsymmetricAlgorithm, key: KeyObject, token: string, secondDot: number): boolean {
  const signingInput = Buffer.from(token.substring(0, secondDot), 'latin1');
  return verifyJwsSignature(alg, key, signingInput, Buffer.from(token.substring(secondDot + 1), 'base64url'));
}
