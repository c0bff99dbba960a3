/** Scores per module and the survivors nobody has reviewed, from Stryker's JSON report. */
import { normaliseCode, type ReviewedMutant } from './reviewed.js';

/** Killed (or timed out) share of the mutants that can be killed, per module, in percent. */
export const MUTATION_TARGET = 90;

export interface MutantOutcome {
  mutatorName: string;
  replacement?: string;
  status: 'Killed' | 'Survived' | 'NoCoverage' | 'Timeout' | 'CompileError' | 'RuntimeError' | 'Ignored' | 'Pending';
  location: { start: { line: number; column: number }; end: { line: number; column: number } };
}

export interface FileOutcome {
  file: string;
  source: string;
  mutants: MutantOutcome[];
}

export interface Survivor {
  file: string;
  line: number;
  mutator: string;
  original: string;
  replacement: string;
}

export interface ModuleScore {
  file: string;
  killed: number;
  survived: number;
  equivalent: number;
  harmless: number;
  score: number;
}

export interface MutationSummary {
  modules: ModuleScore[];
  unreviewed: Survivor[];
  /** Reviewed entries that match no survivor any more (killed, or the code changed). */
  stale: ReviewedMutant[];
}

/** The source text a mutant replaces (report lines and columns count from 1). */
function originalText(lines: readonly string[], location: MutantOutcome['location']): string {
  const { start, end } = location;
  if (start.line === end.line) return lines[start.line - 1]!.slice(start.column - 1, end.column - 1);
  const parts = [lines[start.line - 1]!.slice(start.column - 1), ...lines.slice(start.line, end.line - 1), lines[end.line - 1]!.slice(0, end.column - 1)];
  return parts.join('\n');
}

export function summarise(files: readonly FileOutcome[], reviewed: readonly ReviewedMutant[]): MutationSummary {
  const used = new Set<ReviewedMutant>();
  const unreviewed: Survivor[] = [];
  const modules = files.map(({ file, source, mutants }): ModuleScore => {
    const lines = source.split('\n');
    let killed = 0;
    let survived = 0;
    let equivalent = 0;
    let harmless = 0;
    for (const mutant of mutants) {
      if (mutant.status === 'Killed' || mutant.status === 'Timeout') killed += 1;
      if (mutant.status !== 'Survived' && mutant.status !== 'NoCoverage') continue;
      const survivor: Survivor = {
        file,
        line: mutant.location.start.line,
        mutator: mutant.mutatorName,
        original: originalText(lines, mutant.location),
        replacement: mutant.replacement ?? '',
      };
      const entry = reviewed.find(
        (r) =>
          r.file === file &&
          r.mutator === survivor.mutator &&
          normaliseCode(r.original) === normaliseCode(survivor.original) &&
          normaliseCode(r.replacement) === normaliseCode(survivor.replacement),
      );
      if (entry?.verdict === 'equivalent') {
        equivalent += 1;
      } else {
        survived += 1;
        if (entry === undefined) unreviewed.push(survivor);
        else harmless += 1;
      }
      if (entry !== undefined) used.add(entry);
    }
    const valid = killed + survived;
    return { file, killed, survived, equivalent, harmless, score: valid === 0 ? 100 : (100 * killed) / valid };
  });
  const checked = new Set(files.map((f) => f.file));
  return { modules, unreviewed, stale: reviewed.filter((r) => checked.has(r.file) && !used.has(r)) };
}

const clip = (code: string): string => {
  const flat = normaliseCode(code);
  return flat.length > 70 ? `${flat.slice(0, 67)}...` : flat;
};

export function printSummary(summary: MutationSummary, print: (line: string) => void): void {
  const width = Math.max(...summary.modules.map((m) => m.file.length), 6);
  print('');
  print(`${'module'.padEnd(width)}  killed  survived (reviewed)  equivalent  score   target ≥ ${MUTATION_TARGET}%`);
  for (const m of [...summary.modules].sort((a, b) => a.file.localeCompare(b.file))) {
    const verdict = m.score >= MUTATION_TARGET ? 'ok' : 'MISSED';
    print(
      `${m.file.padEnd(width)}  ${String(m.killed).padStart(6)}  ${String(m.survived).padStart(8)} ${`(${m.harmless})`.padStart(10)}  ${String(m.equivalent).padStart(10)}  ${m.score.toFixed(1).padStart(5)}%  ${verdict}`,
    );
  }
  const killed = summary.modules.reduce((n, m) => n + m.killed, 0);
  const valid = summary.modules.reduce((n, m) => n + m.killed + m.survived, 0);
  print(
    `${'all'.padEnd(width)}  ${String(killed).padStart(6)}  ${String(valid - killed).padStart(8)}${' '.repeat(24)}${(valid === 0 ? 100 : (100 * killed) / valid).toFixed(1).padStart(5)}%`,
  );
  print('');
  if (summary.unreviewed.length === 0) print('Unreviewed survivors: none.');
  else {
    print(`Unreviewed survivors (${summary.unreviewed.length}): kill each with a test, or add it to mutation/reviewed.json with its reason.`);
    for (const s of summary.unreviewed) print(`  ${s.file}:${s.line}  ${s.mutator}  ${clip(s.original)}  →  ${clip(s.replacement)}`);
  }
  if (summary.stale.length > 0) {
    print(`Reviewed entries that match no survivor any more (${summary.stale.length}): remove them from mutation/reviewed.json.`);
    for (const r of summary.stale) print(`  ${r.file}  ${r.mutator}  ${clip(r.original)}`);
  }
}
