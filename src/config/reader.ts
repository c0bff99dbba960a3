import type { z } from 'zod';
import { isLoopbackHostname } from '../identity/fetch-json.js';
import type { Environment } from './environment.js';
import { parseRedisUrl, REDIS_URL_FORMS, RedisUrlError } from '../state/redis-url.js';
import type { ConfigProblem } from './problems.js';

/** The one loopback rule, shared with the key fetches' "https unless loopback". */
export const isLoopbackHost = isLoopbackHostname;

export function isLoopbackUrl(url: string): boolean {
  try {
    return isLoopbackHost(new URL(url).hostname);
  } catch {
    return false;
  }
}

export function isHttpsOrLoopback(url: string): boolean {
  try {
    const parsed = new URL(url);
    if (parsed.protocol === 'https:') return true;
    return parsed.protocol === 'http:' && isLoopbackHost(parsed.hostname);
  } catch {
    return false;
  }
}

/** Typed readers that record a problem (with its fix) instead of throwing, so all problems are reported at once. */
export class VariableReader {
  constructor(
    private readonly env: Environment,
    private readonly problems: ConfigProblem[],
  ) {}

  problem(variable: string, message: string, fix: string): void {
    this.problems.push({ variable, message, fix });
  }

  string(name: string): string | undefined {
    const value = this.env[name];
    if (value === undefined) return undefined;
    const trimmed = value.trim();
    return trimmed === '' ? undefined : trimmed;
  }

  boolean(name: string, fallback: boolean): boolean {
    const value = this.string(name)?.toLowerCase();
    if (value === undefined) return fallback;
    if (['true', '1', 'yes', 'on'].includes(value)) return true;
    if (['false', '0', 'no', 'off'].includes(value)) return false;
    this.problem(name, `"${value}" is not a boolean`, `set ${name}=true or ${name}=false`);
    return fallback;
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    return this.optionalInteger(name, min, max) ?? fallback;
  }

  optionalInteger(name: string, min: number, max: number): number | null {
    const value = this.string(name);
    if (value === undefined) return null;
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      this.problem(name, `"${value}" is not a whole number from ${min} to ${max}`, `set ${name} to a whole number from ${min} to ${max}, or unset it for the default`);
      return null;
    }
    return Number(value);
  }

  choice<const T extends string>(name: string, choices: readonly T[], fallback: T): T {
    const value = this.string(name);
    if (value === undefined) return fallback;
    if ((choices as readonly string[]).includes(value)) return value as T;
    this.problem(name, `"${value}" is not one of ${choices.join(', ')}`, `set ${name} to one of: ${choices.join(', ')}`);
    return fallback;
  }

  list(name: string): string[] {
    const value = this.string(name);
    if (value === undefined) return [];
    return value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  }

  url(name: string, options: { httpsUnlessLoopback: boolean }): string | undefined {
    const value = this.string(name);
    if (value === undefined) return undefined;
    if (options.httpsUnlessLoopback && !isHttpsOrLoopback(value)) {
      this.problem(name, `"${value}" is not an https URL (plain http is allowed only on a loopback address)`, `set ${name} to an https:// URL`);
      return undefined;
    }
    return value.replace(/\/+$/, '');
  }

  /** Checked with the parser the Redis client itself uses, so what loads here also connects. */
  redisUrl(name: string): string | undefined {
    const value = this.string(name);
    if (value === undefined) return undefined;
    try {
      parseRedisUrl(value);
      return value;
    } catch (error) {
      // The message never repeats the URL: it may hold a password.
      const reason = error instanceof RedisUrlError ? error.message : 'cannot be read';
      this.problem(name, `is not a Redis URL: it ${reason}`, `set ${name} to ${REDIS_URL_FORMS}`);
      return undefined;
    }
  }

  json<T>(name: string, schema: z.ZodType<T>, example: string): T | undefined {
    const value = this.string(name);
    if (value === undefined) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      this.problem(name, 'is not valid JSON', `set ${name} to ${example}`);
      return undefined;
    }
    const result = schema.safeParse(parsed);
    if (!result.success) {
      for (const issue of result.error.issues) {
        this.problem(name, `${issue.path.length > 0 ? `[${issue.path.join('.')}] ` : ''}${issue.message}`, `set ${name} to ${example}`);
      }
      return undefined;
    }
    return result.data;
  }
}
