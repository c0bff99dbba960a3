/**
 * Survivors a reviewer has read and accepted, kept in `reviewed.json` with a
 * reason each: `equivalent` (no input can tell the mutant from the code; left
 * out of the score) or `harmless` (observable, but it cannot change whether a
 * token is accepted, which key verifies it, which user id it yields, or the
 * role and teams; still counts against the score).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';

const entrySchema = z
  .object({
    file: z.string().min(1),
    mutator: z.string().min(1),
    /** The code the mutant replaces, as in the source (whitespace runs compare as one space). */
    original: z.string().min(1),
    replacement: z.string(),
    verdict: z.enum(['equivalent', 'harmless']),
    reason: z.string().min(10),
  })
  .strict();

export type ReviewedMutant = z.infer<typeof entrySchema>;

export const REVIEWED_FILE = new URL('./reviewed.json', import.meta.url);

export function loadReviewed(): ReviewedMutant[] {
  return z.array(entrySchema).parse(JSON.parse(readFileSync(REVIEWED_FILE, 'utf8')));
}

export const normaliseCode = (code: string): string => code.replace(/\s+/g, ' ').trim();
