import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { summarise, type MutantOutcome } from '../../mutation/summary.js';
import type { ReviewedMutant } from '../../mutation/reviewed.js';

const source = ['export function allowed(n: number): boolean {', '  return n >= 2048;', '}', ''].join('\n');
const at = (line: number, from: number, to: number) => ({ start: { line, column: from }, end: { line, column: to } });
const mutant = (status: MutantOutcome['status'], mutatorName = 'EqualityOperator', replacement = 'n > 2048'): MutantOutcome => ({
  status,
  mutatorName,
  replacement,
  location: at(2, 10, 19),
});

describe('the mutation summary', () => {
  it('scores killed and timed-out mutants against survivors and uncovered ones', () => {
    const { modules } = summarise(
      [{ file: 'src/a.ts', source, mutants: [mutant('Killed'), mutant('Timeout'), mutant('Survived'), mutant('NoCoverage'), mutant('CompileError')] }],
      [],
    );
    assert.deepEqual(modules, [{ file: 'src/a.ts', killed: 2, survived: 2, equivalent: 0, harmless: 0, score: 50 }]);
  });

  it('reports a survivor nobody reviewed, with the code it replaces', () => {
    const { unreviewed } = summarise([{ file: 'src/a.ts', source, mutants: [mutant('Survived')] }], []);
    assert.deepEqual(unreviewed, [{ file: 'src/a.ts', line: 2, mutator: 'EqualityOperator', original: 'n >= 2048', replacement: 'n > 2048' }]);
  });

  it('leaves an equivalent mutant out of the score, but a harmless one still counts against it', () => {
    const review = (verdict: ReviewedMutant['verdict']): ReviewedMutant => ({
      file: 'src/a.ts',
      mutator: 'EqualityOperator',
      original: 'n  >=  2048',
      replacement: 'n > 2048',
      verdict,
      reason: 'a reason long enough',
    });
    const equivalent = summarise([{ file: 'src/a.ts', source, mutants: [mutant('Killed'), mutant('Survived')] }], [review('equivalent')]);
    assert.equal(equivalent.modules[0]!.score, 100);
    assert.deepEqual(equivalent.unreviewed, []);
    const harmless = summarise([{ file: 'src/a.ts', source, mutants: [mutant('Killed'), mutant('Survived')] }], [review('harmless')]);
    assert.equal(harmless.modules[0]!.score, 50);
    assert.deepEqual(harmless.unreviewed, []);
  });

  it('matches a review only for the same file, mutator and replacement', () => {
    const other: ReviewedMutant = {
      file: 'src/b.ts',
      mutator: 'EqualityOperator',
      original: 'n >= 2048',
      replacement: 'n > 2048',
      verdict: 'equivalent',
      reason: 'a reason long enough',
    };
    const result = summarise(
      [{ file: 'src/a.ts', source, mutants: [mutant('Survived'), mutant('Survived', 'EqualityOperator', 'n < 2048')] }],
      [other, { ...other, file: 'src/a.ts', replacement: 'n <= 2048' }],
    );
    assert.equal(result.unreviewed.length, 2);
    assert.equal(result.stale.length, 1, 'the entry for src/a.ts matches nothing and is reported as stale');
  });
});
