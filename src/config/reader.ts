import { resolve } from 'node:path';
import type { z } from 'zod';
import { isLoopbackHostname } from '../identity/fetch-json.js';
import { parseRedisUrl, REDIS_URL_FORMS, RedisUrlError } from '../state/redis-url.js';
import type { Environment } from './environment.js';
import { misplacedClerkCredential, type ClerkSlot } from './clerk-keys.js';
import type { ConfigProblem } from './problems.js';
import { nearestName } from './spelling.js';
import { variable, type VariableName, type Variables } from './variables.js';

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

type NamesWhere<Shape> = { [N in VariableName]: Variables[N] extends Shape ? N : never }[VariableName];
type TextValue<N extends VariableName> = Variables[N] extends { default: string } ? string : string | undefined;

/** The fix for a bad value of `name`: the table's own, else one made from its kind and range. */
export function fixFor(name: VariableName): string {
  const spec = variable(name);
  if (spec.fix !== undefined) return spec.fix;
  switch (spec.kind) {
    case 'integer':
      return `set ${name} to a whole number from ${spec.min} to ${spec.max}, or unset it for the default`;
    case 'boolean':
      return `set ${name}=true or ${name}=false`;
    case 'choice':
      return `set ${name} to one of: ${spec.choices.join(', ')}`;
    case 'url':
      return `set ${name} to an https:// URL`;
    case 'redis-url':
      return `set ${name} to ${REDIS_URL_FORMS}`;
    default:
      return `set ${name} as .env.example describes it`;
  }
}

/**
 * Reads each variable as the table describes it (kind, default, range),
 * recording a problem with the variable's fix instead of throwing, so all
 * problems are reported at once.
 */
export class VariableReader {
  constructor(
    private readonly env: Environment,
    private readonly problems: ConfigProblem[],
    /** Defaults are the table's `devDefault` where it has one. */
    readonly devMode = false,
  ) {}

  /** The same variables and problems, with the defaults of the given mode. */
  forMode(devMode: boolean): VariableReader {
    return new VariableReader(this.env, this.problems, devMode);
  }

  problem(name: VariableName, message: string, fix = fixFor(name)): void {
    this.problems.push({ variable: name, message, fix });
  }

  hasProblem(test: (variable: string) => boolean): boolean {
    return this.problems.some((p) => test(p.variable));
  }

  /** The value as written, trimmed; `undefined` when unset or empty. */
  string(name: VariableName): string | undefined {
    const value = this.env[name];
    if (value === undefined) return undefined;
    const trimmed = value.trim();
    return trimmed === '' ? undefined : trimmed;
  }

  text<N extends NamesWhere<{ kind: 'string' }>>(name: N): TextValue<N> {
    return (this.string(name) ?? this.textDefault(name)) as TextValue<N>;
  }

  /** Resolved against `cwd`. */
  path<N extends NamesWhere<{ kind: 'path' }>>(name: N, cwd: string): TextValue<N> {
    const value = this.string(name) ?? this.textDefault(name);
    return (value === undefined ? undefined : resolve(cwd, value)) as TextValue<N>;
  }

  /** `fallback` replaces the table's default where another setting decides it. */
  boolean(name: NamesWhere<{ kind: 'boolean' }>, fallback: boolean = variable(name).default as boolean): boolean {
    const value = this.string(name)?.toLowerCase();
    if (value === undefined) return fallback;
    if (['true', '1', 'yes', 'on'].includes(value)) return true;
    if (['false', '0', 'no', 'off'].includes(value)) return false;
    this.problem(name, `"${value}" is not a boolean`);
    return fallback;
  }

  integer(name: NamesWhere<{ kind: 'integer'; default: number }>): number {
    const spec = variable(name);
    const fallback = spec.kind === 'integer' ? ((this.devMode ? spec.devDefault : undefined) ?? spec.default) : null;
    return this.optionalInteger(name) ?? (fallback as number);
  }

  optionalInteger(name: NamesWhere<{ kind: 'integer' }>): number | null {
    const spec = variable(name);
    const value = this.string(name);
    if (value === undefined || spec.kind !== 'integer') return null;
    const { min, max } = spec;
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      this.problem(name, `"${value}" is not a whole number from ${min} to ${max}`);
      return null;
    }
    return Number(value);
  }

  choice<N extends NamesWhere<{ kind: 'choice' }>>(name: N): Variables[N]['choices'][number] {
    const spec = variable(name);
    const choices = spec.kind === 'choice' ? spec.choices : [];
    const fallback = spec.default as Variables[N]['choices'][number];
    const value = this.string(name);
    if (value === undefined) return fallback;
    if (choices.includes(value)) return value as Variables[N]['choices'][number];
    this.problem(name, `"${value}" is not one of ${choices.join(', ')}`);
    return fallback;
  }

  list(name: NamesWhere<{ kind: 'list' }>): string[] {
    const value = this.string(name);
    if (value === undefined) return [];
    return value
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  }

  /** https, or plain http on a loopback address; trailing slashes removed. */
  url<N extends NamesWhere<{ kind: 'url' }>>(name: N): TextValue<N> {
    const value = this.string(name);
    if (value === undefined) return this.textDefault(name) as TextValue<N>;
    if (!isHttpsOrLoopback(value)) {
      this.problem(name, `"${value}" is not an https URL (plain http is allowed only on a loopback address)`);
      return this.textDefault(name) as TextValue<N>;
    }
    return value.replace(/\/+$/, '');
  }

  /** Checked with the parser the Redis client itself uses, so what loads here also connects. */
  redisUrl(name: NamesWhere<{ kind: 'redis-url' }>): string | undefined {
    const value = this.string(name);
    if (value === undefined) return undefined;
    try {
      parseRedisUrl(value);
      return value;
    } catch (error) {
      // The message never repeats the URL: it may hold a password.
      const reason = error instanceof RedisUrlError ? error.message : 'cannot be read';
      this.problem(name, `is not a Redis URL: it ${reason}`);
      return undefined;
    }
  }

  /** `fields`: the keys an object in the value may have, so an unknown one is named with the nearest. */
  json<T>(name: NamesWhere<{ kind: 'json' }>, schema: z.ZodType<T>, fields: readonly string[] = []): T | undefined {
    const value = this.string(name);
    if (value === undefined) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      this.problem(name, 'is not valid JSON');
      return undefined;
    }
    const result = schema.safeParse(parsed);
    if (!result.success) {
      for (const issue of result.error.issues) {
        const where = issue.path.length > 0 ? `[${issue.path.join('.')}] ` : '';
        if (issue.code === 'unrecognized_keys' && fields.length > 0) {
          for (const key of issue.keys) this.unknownField(name, where, key, fields);
        } else {
          this.problem(name, `${where}${issue.message}`);
        }
      }
      return undefined;
    }
    return result.data;
  }

  /** An unknown field, with the one most likely meant and every valid one. */
  private unknownField(name: VariableName, where: string, key: string, fields: readonly string[]): void {
    const meant = nearestName(key, fields);
    const valid = `the fields are ${fields.join(', ')}`;
    if (meant === undefined) this.problem(name, `${where}unknown field ${JSON.stringify(key)}`, `remove it; ${valid}`);
    else
      this.problem(
        name,
        `${where}unknown field ${JSON.stringify(key)}; did you mean ${JSON.stringify(meant)}?`,
        `rename it to ${JSON.stringify(meant)}; ${valid}`,
      );
  }

  /** Records the problem when a Clerk credential of another kind is set in `name` (see clerk-keys.ts); true if so. */
  misplacedClerkCredential(name: VariableName, slot: ClerkSlot, value: string | undefined): boolean {
    const problem = value === undefined ? null : misplacedClerkCredential(slot, value);
    if (problem !== null) this.problem(name, problem.message, problem.fix);
    return problem !== null;
  }

  private textDefault(name: VariableName): string | undefined {
    const spec = variable(name);
    if (spec.kind === 'integer' || spec.kind === 'boolean' || spec.kind === 'choice') return undefined;
    return (this.devMode ? spec.devDefault : undefined) ?? spec.default;
  }
}
