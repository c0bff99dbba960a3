/**
 * The display profile a Stream user gets from verified claims.
 *
 * name:  `name`, else `first_name` + `last_name`, else `given_name` + `family_name`
 *        (OpenID Connect), else `username`, else `preferred_username`.
 * image: `image_url`, else `picture`; only absolute http(s) URLs.
 *
 * Only string claims count. Values are trimmed, control characters are
 * removed, runs of whitespace become one space, and lengths are bounded: a
 * name is cut at {@link MAX_NAME_LENGTH} characters, an image URL longer than
 * {@link MAX_IMAGE_URL_LENGTH} is dropped (a cut URL would be broken).
 */

export const MAX_NAME_LENGTH = 100;
export const MAX_IMAGE_URL_LENGTH = 2048;

export interface StreamProfile {
  name?: string;
  image?: string;
}

// C0 and C1 control characters, plus zero-width and bidi formatting marks that make names deceptive.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;
const SPACES = /\s+/g;

/** Trim, strip control characters and collapse whitespace; `undefined` for non-strings or empty results. */
export function cleanText(value: unknown, maxLength: number): string | undefined {
  if (typeof value !== 'string') return undefined;
  const cleaned = value.replace(CONTROL, '').replace(SPACES, ' ').trim();
  if (cleaned.length === 0) return undefined;
  if (cleaned.length <= maxLength) return cleaned;
  // Cut on a code point boundary so no lone surrogate is left behind.
  let cut = '';
  for (const codePoint of cleaned) {
    if (cut.length + codePoint.length > maxLength) break;
    cut += codePoint;
  }
  return cut.trimEnd();
}

/** An absolute http(s) URL no longer than {@link MAX_IMAGE_URL_LENGTH}, else `undefined`. */
export function cleanImageUrl(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  if (trimmed.length === 0 || trimmed.length > MAX_IMAGE_URL_LENGTH) return undefined;
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  if (url.username !== '' || url.password !== '') return undefined;
  return trimmed;
}

function joinNames(first: unknown, last: unknown): string | undefined {
  const a = cleanText(first, MAX_NAME_LENGTH);
  const b = cleanText(last, MAX_NAME_LENGTH);
  if (a && b) return cleanText(`${a} ${b}`, MAX_NAME_LENGTH);
  return a ?? b;
}

/** The display name from claims, following the order described above. */
export function nameFromClaims(claims: Readonly<Record<string, unknown>>): string | undefined {
  return (
    cleanText(claims.name, MAX_NAME_LENGTH) ??
    joinNames(claims.first_name, claims.last_name) ??
    joinNames(claims.given_name, claims.family_name) ??
    cleanText(claims.username, MAX_NAME_LENGTH) ??
    cleanText(claims.preferred_username, MAX_NAME_LENGTH)
  );
}

/** The avatar URL from claims: `image_url`, else `picture`. */
export function imageFromClaims(claims: Readonly<Record<string, unknown>>): string | undefined {
  return cleanImageUrl(claims.image_url) ?? cleanImageUrl(claims.picture);
}

/** Name and image for the Stream user; absent fields are left out. */
export function profileFromClaims(claims: Readonly<Record<string, unknown>>): StreamProfile {
  const profile: StreamProfile = {};
  const name = nameFromClaims(claims);
  if (name !== undefined) profile.name = name;
  const image = imageFromClaims(claims);
  if (image !== undefined) profile.image = image;
  return profile;
}
