import type { Environment } from './environment.js';
import { SECRET_VARIABLES, VARIABLE_NAMES } from './variables.js';

/** Every name the service reads: the table's, and `<NAME>_FILE` of each secret. */
const KNOWN: readonly string[] = [...VARIABLE_NAMES, ...SECRET_VARIABLES.map((name) => `${name}_FILE`)];

/** Edits (insert, delete, replace, swap two neighbours) from one name to the other. */
export function distance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j += 1) (rows[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i += 1) {
    const row = rows[i] as number[];
    const above = rows[i - 1] as number[];
    for (let j = 1; j <= b.length; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((above[j] as number) + 1, (row[j - 1] as number) + 1, (above[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        row[j] = Math.min(row[j] as number, ((rows[i - 2] as number[])[j - 2] as number) + 1);
      }
    }
  }
  return (rows[a.length] as number[])[b.length] as number;
}

/**
 * Variables set that the service does not read but that are one or two
 * edits from a name it does (`STREAM_API_SECRT`), with the name meant: a
 * misspelt variable is otherwise silently ignored. Short names are left
 * alone, so `HOME` is never taken for `HOST`, and so are other programs'
 * variables that happen to be close.
 */
export function misspeltVariables(env: Environment): Array<{ name: string; meant: string }> {
  const found: Array<{ name: string; meant: string }> = [];
  for (const name of Object.keys(env)) {
    if (env[name] === undefined || KNOWN.includes(name)) continue;
    // One edit in names of 6 letters or more, two from 16: `SSL_CERT_FILE` is two from `TLS_CERT_FILE`.
    const allowed = name.length >= 16 ? 2 : name.length >= 6 ? 1 : 0;
    const meant = KNOWN.find((known) => distance(name.toUpperCase(), known) <= allowed);
    if (meant !== undefined) found.push({ name, meant });
  }
  return found;
}

/**
 * The name among `known` that `name` most likely meant, ignoring letter case, `_` and `-` (so
 * `jwksUri` is `jwks_uri`) and allowing one edit in four letters; undefined when none is that close.
 */
export function nearestName(name: string, known: readonly string[]): string | undefined {
  const fold = (value: string) => value.toLowerCase().replace(/[_-]/g, '');
  const allowed = Math.max(1, Math.floor(fold(name).length / 4));
  let best: { name: string; edits: number } | undefined;
  for (const candidate of known) {
    const edits = distance(fold(name), fold(candidate));
    if (edits <= allowed && (best === undefined || edits < best.edits)) best = { name: candidate, edits };
  }
  return best?.name;
}
