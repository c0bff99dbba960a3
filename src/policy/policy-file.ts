/**
 * `POLICY_FILE` read into a validated document: YAML or JSON (chosen by the
 * extension; any other extension tries JSON, then YAML), read once at start,
 * every problem reported with its path in the document. The schema is in
 * policy-schema.ts, docs/policy.md describes the format with examples.
 */

import { closeSync, openSync, readSync } from 'node:fs';
import { extname } from 'node:path';
import { parseDocument } from 'yaml';
import { policyDocumentSchema, type PolicyDocument } from './policy-schema.js';

/** Largest policy file read, in bytes. */
export const MAX_POLICY_FILE_BYTES = 1024 * 1024;

export class PolicyFileError extends Error {
  override readonly name = 'PolicyFileError';
  /** Each problem on its own, `path: message`. */
  readonly problems: readonly string[];
  readonly file: string;

  constructor(file: string, problems: string[]) {
    super(`invalid policy file ${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.file = file;
    this.problems = problems;
  }
}

export type PolicyFormat = 'yaml' | 'json' | 'auto';

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (typeof segment === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out === '' ? '(top level)' : out;
}

/** Keys that would reach an object's prototype instead of naming a claim or value. */
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** Every forbidden key anywhere in the document, with its path: a record would drop it silently. */
function forbiddenKeyProblems(value: unknown, path: PropertyKey[] = []): string[] {
  if (typeof value !== 'object' || value === null) return [];
  const problems: string[] = [];
  for (const key of Object.keys(value)) {
    const child = (value as Record<string, unknown>)[key];
    if (FORBIDDEN_KEYS.has(key)) problems.push(`${formatPath([...path, key])}: "${key}" is not allowed as a key`);
    else problems.push(...forbiddenKeyProblems(child, [...path, Array.isArray(value) ? Number(key) : key]));
  }
  return problems;
}

/** Validate an already-parsed document. Throws `PolicyFileError` listing every problem. */
export function validatePolicyDocument(value: unknown, source = 'policy'): PolicyDocument {
  if (value === null || value === undefined) return {};
  const forbidden = forbiddenKeyProblems(value);
  if (forbidden.length > 0) throw new PolicyFileError(source, forbidden);
  const result = policyDocumentSchema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    // A record key that failed its own schema: report that schema's message.
    const nested = issue.code === 'invalid_key' ? issue.issues[0]?.message : undefined;
    return `${formatPath(issue.path)}: ${nested ?? issue.message}`;
  });
  throw new PolicyFileError(source, problems);
}

function parseYaml(text: string, source: string): unknown {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new PolicyFileError(
      source,
      doc.errors.map((e) => `YAML: ${e.message.split('\n')[0]}`),
    );
  }
  try {
    return doc.toJS({ maxAliasCount: 50 });
  } catch (error) {
    throw new PolicyFileError(source, [`YAML: ${(error as Error).message}`]);
  }
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new PolicyFileError(source, [`JSON: ${(error as Error).message}`]);
  }
}

/** Parse and validate policy text. `auto` tries JSON first, then YAML. */
export function parsePolicyText(text: string, format: PolicyFormat = 'auto', source = 'policy'): PolicyDocument {
  let value: unknown;
  if (format === 'json') value = parseJson(text, source);
  else if (format === 'yaml') value = parseYaml(text, source);
  else {
    try {
      value = JSON.parse(text) as unknown;
    } catch {
      value = parseYaml(text, source);
    }
  }
  return validatePolicyDocument(value, source);
}

/** The format a policy file's extension names. */
export function policyFormatFor(file: string): PolicyFormat {
  const ext = extname(file).toLowerCase();
  if (ext === '.yaml' || ext === '.yml') return 'yaml';
  if (ext === '.json') return 'json';
  return 'auto';
}

/**
 * Read, parse and validate a policy file. Throws `PolicyFileError`, also for
 * an unreadable file or one over {@link MAX_POLICY_FILE_BYTES}.
 */
export function loadPolicyFile(file: string): PolicyDocument {
  const bytes = readAtMost(file, MAX_POLICY_FILE_BYTES + 1);
  if (bytes.byteLength > MAX_POLICY_FILE_BYTES) {
    throw new PolicyFileError(file, [`the file is larger than 1 MiB (${MAX_POLICY_FILE_BYTES} bytes), the most a policy file may be`]);
  }
  return parsePolicyText(bytes.toString('utf8'), policyFormatFor(file), file);
}

/** Stops at `limit` bytes, so a huge file, a device or a pipe is never read whole. */
function readAtMost(file: string, limit: number): Buffer {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const buffer = Buffer.alloc(limit);
    let length = 0;
    while (length < limit) {
      const read = readSync(fd, buffer, length, limit - length, null);
      if (read === 0) break;
      length += read;
    }
    return buffer.subarray(0, length);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new PolicyFileError(file, [`cannot read the file${code ? ` (${code})` : ''}`]);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
