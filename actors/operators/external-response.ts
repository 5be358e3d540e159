import path from 'node:path';
import { z } from 'zod';
import { JsonObjectSchema, type JsonObject } from '../../events/json.ts';
import { readTextIfExists } from './atomic-file.ts';

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

/** Reads and validates `name` in `dir`; an invalid file yields a reason naming what is wrong. */
export async function readExternalResponse(dir: string, name: string): Promise<ExternalResponseRead> {
  const text = await readTextIfExists(path.join(dir, name));
  if (text === null) return { kind: 'absent' };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return { kind: 'invalid', reason: `invalid ${name}: not JSON (${(error as Error).message})` };
  }
  const parsed = ExternalResponseSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
    return { kind: 'invalid', reason: `invalid ${name}: field ${field}: ${issue.message}` };
  }
  return { kind: 'valid', response: parsed.data };
}

/** The data of a valid response, or undefined. */
export function responseData(read: ExternalResponseRead): JsonObject | undefined {
  return read.kind === 'valid' ? read.response.data : undefined;
}
