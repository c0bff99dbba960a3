/**
 * `npm run test:mutation`: StrykerJS over the security-critical modules (token
 * verification, bearer parsing, the access policy, Stream token minting), each
 * mutant run against the unit tests that cover it. Prints a score per module
 * against the 90% target and every survivor not in `reviewed.json`; exits 1
 * when a module misses the target or a survivor is unreviewed.
 *
 *   npm run test:mutation                      every module (incremental: only what changed since the last run)
 *   npm run test:mutation -- src/policy/evaluate.ts   only the files given
 *   npm run test:mutation -- --summary         print the summary of the last run without running
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { Stryker } from '@stryker-mutator/core';
import { MUTATION_TARGET, printSummary, summarise, type MutantOutcome } from './summary.js';
import { loadReviewed } from './reviewed.js';

const REPORT = 'reports/mutation/mutation.json';

interface ReportFile {
  files: Record<string, { source: string; mutants: MutantOutcome[] }>;
}

async function run(files: string[]): Promise<void> {
  // The base configuration (modules, test files, incremental file) is stryker.config.json.
  const stryker = new Stryker({ ...(files.length > 0 ? { mutate: files } : {}) });
  await stryker.runMutationTest();
}

const args = process.argv.slice(2);
const summaryOnly = args.includes('--summary');
const files = args.filter((arg) => !arg.startsWith('--'));
if (!summaryOnly) await run(files);

const report = JSON.parse(readFileSync(REPORT, 'utf8')) as ReportFile;
const reviewed = loadReviewed();
const summary = summarise(
  Object.entries(report.files).map(([file, { source, mutants }]) => ({ file: relative(process.cwd(), file), source, mutants })),
  reviewed,
);
printSummary(summary, (line) => process.stdout.write(`${line}\n`));
const failed = summary.modules.some((m) => m.score < MUTATION_TARGET) || summary.unreviewed.length > 0;
process.exitCode = failed ? 1 : 0;
