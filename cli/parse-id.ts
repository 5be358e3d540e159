import { MatterStackError } from '../events/errors.ts';
import { IdSchema } from '../events/ids.ts';

/** Validates a run / task / attempt id from the command line; VALIDATION_FAILED naming it otherwise. */
export function parseId(kind: string, value: string): string {
  const result = IdSchema.safeParse(value);
  if (!result.success) {
    throw new MatterStackError('VALIDATION_FAILED', `invalid ${kind} "${value}": ${result.error.issues[0]?.message ?? 'invalid'}`, { [kind]: value });
  }
  return result.data;
}
