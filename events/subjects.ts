import { MatterStackError } from './errors.ts';
import { isValidId } from './ids.ts';

/** Prefix of every event subject; the events stream captures `ms.evt.>`. */
export const EVENT_SUBJECT_PREFIX = 'ms.evt';
/** The events stream's subject filter. */
export const EVENT_SUBJECTS = `${EVENT_SUBJECT_PREFIX}.>`;
/** Subject of the "create a run" command (no run id yet). */
export const INIT_COMMAND_SUBJECT = 'ms.cmd.init';

function checkId(kind: string, value: string): string {
  // Ids end up as subject tokens: a "." or "*" would change which subjects match.
  if (!isValidId(value)) throw new MatterStackError('VALIDATION_FAILED', `${kind} ${JSON.stringify(value)}: not a valid id`);
  return value;
}

/** The subject holding one run's log: `ms.evt.<runId>.log`. */
export function eventSubject(runId: string): string {
  return `${EVENT_SUBJECT_PREFIX}.${checkId('runId', runId)}.log`;
}

/** The run id of an event subject, or undefined when `subject` is not one. */
export function runIdOfEventSubject(subject: string): string | undefined {
  const parts = subject.split('.');
  if (parts.length !== 4 || parts[0] !== 'ms' || parts[1] !== 'evt' || parts[3] !== 'log') return undefined;
  return parts[2];
}

/** The subject of a command to one run: `ms.cmd.<runId>.<verb>`. */
export function commandSubject(runId: string, verb: string): string {
  return `ms.cmd.${checkId('runId', runId)}.${checkId('verb', verb)}`;
}
