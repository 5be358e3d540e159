import { z } from 'zod';
import { isMatterStackError } from '../events/errors.ts';
import { JsonObjectSchema } from '../events/json.ts';
import { DEFAULT_MAX_RESULTS_BYTES, readAttemptFile, readResultsFile } from './read-results-file.ts';

/**
 * `response.json` (human) and `experiment_result.json` (experiment): `status` COMPLETED |
 * FAILED | WAITING, optional object `data`, optional `error`. Unknown keys are tolerated (the
 * original's robots write a `files` list).
 */
export const ExternalResponseSchema = z.object({
  status: z.enum(['COMPLETED', 'FAILED', 'WAITING']),
  data: JsonObjectSchema.optional(),
  error: z.string().nullable().optional(),
  files: z.array(z.string()).optional(),
});
export type ExternalResponse = z.infer<typeof ExternalResponseSchema>;

/** A response file read from an attempt directory. */
export type ExternalResponseRead =
  | { kind: 'absent' }
  | { kind: 'valid'; response: ExternalResponse }
  | { kind: 'invalid'; reason: string };

/** A person's plain-text answer (`approved.txt`, `rejected.txt`) read from an attempt directory. */
export type AnswerTextRead = { kind: 'absent' } | { kind: 'text'; text: string } | { kind: 'invalid'; reason: string };

/** Reads `name` in `dir` as text, refused like the response files (FIFO, link out of `dir`, over `maxBytes`). */
export async function readAnswerText(dir: string, name: string, maxBytes: number | undefined): Promise<AnswerTextRead> {
  try {
    const text = await readAttemptFile(dir, name, maxBytes ?? DEFAULT_MAX_RESULTS_BYTES);
    return text === undefined ? { kind: 'absent' } : { kind: 'text', text };
  } catch (error) {
    if (isMatterStackError(error, 'RESULTS_INVALID')) return { kind: 'invalid', reason: `invalid ${error.message}` };
    throw error;
  }
}

/**
 * Reads and validates `name` in `dir`; an invalid file yields a reason naming what is wrong.
 * People and robots write this file, so it is read like a task's results.json: a FIFO, a link out
 * of `dir` or a file over `maxBytes` (default: DEFAULT_MAX_RESULTS_BYTES) is refused (never
 * blocks the host), not followed.
 */
export async function readExternalResponse(dir: string, name: string, maxBytes: number | undefined): Promise<ExternalResponseRead> {
  let raw: unknown;
  try {
    raw = await readResultsFile(dir, name, maxBytes ?? DEFAULT_MAX_RESULTS_BYTES);
  } catch (error) {
    if (isMatterStackError(error, 'RESULTS_INVALID')) return { kind: 'invalid', reason: `invalid ${error.message}` };
    throw error;
  }
  if (raw === undefined) return { kind: 'absent' };
  const parsed = ExternalResponseSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
    return { kind: 'invalid', reason: `invalid ${name}: field ${field}: ${issue.message}` };
  }
  return { kind: 'valid', response: parsed.data };
}
