/** One thing wrong with the configuration, with the variable to change and how. */
export interface ConfigProblem {
  variable: string;
  message: string;
  fix: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    super(formatProblems(problems));
    this.problems = problems;
  }
}

export function formatProblems(problems: readonly ConfigProblem[]): string {
  const lines = [`Configuration is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):`];
  for (const p of problems) {
    lines.push(`  - ${p.variable}: ${p.message}`);
    lines.push(`      fix: ${p.fix}`);
  }
  lines.push('See .env.example for every variable and its default.');
  return lines.join('\n');
}
