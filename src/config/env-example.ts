/**
 * `.env.example`, made from the variable table so the two cannot disagree:
 * `npm run gen:env` writes it, and a test fails when the file is not what
 * this returns.
 */

import { OIDC_ISSUER_FIELDS, VARIABLE_NAMES, variable, type SectionId, type Variable, type VariableName } from './variables.js';

const TITLES: Record<SectionId, string> = {
  mode: 'Mode',
  http: 'HTTP',
  stream: 'Stream',
  clerk: 'Clerk',
  oidc: 'Other OpenID Connect issuers',
  verification: 'Verification',
  policy: 'Users, roles and policy',
  state: 'Shared state and limits',
};

const HEADER = [
  '# stream-token-service configuration. Copy to .env (git-ignored) or set in the environment;',
  '# a real environment variable always wins over .env. Every secret (marked "secret") may',
  '# instead be given as NAME_FILE=/path/to/file (Docker and Kubernetes secrets).',
  '# `stream-token-service check-config` validates this file and prints the result.',
  '# Generated from src/config/variables.ts by `npm run gen:env`: change the table, not this file.',
];

/** Where the comment of a setting starts, how wide its lines may run, and the longest setting it follows. */
const COMMENT_COLUMN = 33;
const WIDTH = 120;
const LONGEST_INLINE = 60;

/** Joins words that a line break must not part, such as a range. */
const KEEP = '\u00a0';

/** Where the documentation of an `OIDC_ISSUERS` field starts, after `#`. */
const FIELD_COLUMN = 31;

/** The fields of an `OIDC_ISSUERS` entry, each with its documentation wrapped beside it. */
function fieldLines(): string[] {
  return Object.entries(OIDC_ISSUER_FIELDS).flatMap(([field, doc]) => {
    const [first = '', ...rest] = wrap(doc, WIDTH - 2 - FIELD_COLUMN);
    return [`  ${field}`.padEnd(FIELD_COLUMN) + first, ...rest.map((line) => `${' '.repeat(FIELD_COLUMN)}${line}`)];
  });
}

/** Comment lines before a variable, for what one line of documentation cannot hold. */
const NOTES: Partial<Record<VariableName, readonly string[]>> = {
  CLERK_JWT_ISSUER: ['One of these names the issuer (first one set wins):'],
  OIDC_ISSUERS: ['Fields of each entry:', ...fieldLines()],
  RATE_LIMIT_ON_STORE_ERROR: ['While Redis cannot be reached (a circuit breaker stops asking it after 3 failures; docs/deploy.md):'],
};

/** More example settings after a variable's line. */
const MORE_EXAMPLES: Partial<Record<VariableName, readonly string[]>> = {
  OIDC_ISSUERS: [
    '[{"issuer":"https://securetoken.google.com/my-project","audience":"my-project","jwks_uri":"https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com"}]',
  ],
};

function shownValue(spec: Variable): string {
  if (spec.example !== undefined) return spec.example;
  return spec.default === undefined || spec.default === null ? '' : String(spec.default);
}

/** The doc line with what the table says besides: secret, range, dev-mode default. */
function comment(spec: Variable): string {
  const parts = [`${spec.secret === true ? 'secret: ' : ''}${spec.doc}`];
  if (spec.kind === 'integer') parts.push([spec.min, 'to', spec.max].join(KEEP));
  if ('devDefault' in spec && spec.devDefault !== undefined) parts.push([spec.devDefault, 'in dev mode'].join(KEEP));
  return parts.join('; ');
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  return [...lines, line].map((l) => l.replaceAll(KEEP, ' '));
}

/** The notes, then the setting with its comment; a setting too long to follow goes under it instead. */
function settingLines(name: VariableName): string[] {
  const spec = variable(name);
  const notes = (NOTES[name] ?? []).map((note) => `# ${note}`);
  const setting = `${spec.essential === true ? '' : '# '}${name}=${shownValue(spec)}`;
  if (setting.length > LONGEST_INLINE) return [...wrap(comment(spec), WIDTH - 2).map((line) => `# ${line}`), ...notes, setting];
  const column = Math.max(COMMENT_COLUMN, setting.length + 2);
  const [first = '', ...rest] = wrap(comment(spec), WIDTH - column - 2);
  return [...notes, `${setting.padEnd(column)}# ${first}`, ...rest.map((line) => `#${' '.repeat(column - 1)}# ${line}`)];
}

export function renderEnvExample(): string {
  const lines = [...HEADER];
  for (const [section, title] of Object.entries(TITLES)) {
    lines.push('', `# ── ${title} `.padEnd(81, '─'));
    for (const name of VARIABLE_NAMES.filter((n) => variable(n).section === section)) {
      lines.push(...settingLines(name));
      for (const example of MORE_EXAMPLES[name] ?? []) lines.push(`# ${name}=${example}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
