import { MatterStackError } from './errors.ts';
import { isValidId } from './ids.ts';

/** Prefix of every event subject; the events stream captures `ms.evt.>`. */
export const EVENT_SUBJECT_PREFIX = 'ms.evt';
/** The events stream's subject filter. */
export const EVENT_SUBJECTS = `${EVENT_SUBJECT_PREFIX}.>`;
/** Prefix of the documented command subjects: `ms.cmd.<runId>.<verb>`, `ms.cmd.init` (the sender is not vouched for). */
export const COMMAND_SUBJECT_PREFIX = 'ms.cmd';
/**
 * Prefix of the authenticated command subjects: `ms.as.<user>.cmd.…`. nats.conf lets each user publish
 * only under `ms.as.<its own name>.>`, so the server, not the client, vouches for the user token.
 */
export const AUTHENTICATED_SUBJECT_PREFIX = 'ms.as';

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

/** `ms.cmd.<rest>`, or `ms.as.<user>.cmd.<rest>` when sent as NATS user `user` (undefined: no user, nothing to vouch for). */
function commandPrefix(user: string | undefined): string {
  return user === undefined ? COMMAND_SUBJECT_PREFIX : `${AUTHENTICATED_SUBJECT_PREFIX}.${checkId('NATS user', user)}.cmd`;
}

/**
 * The subject of a command to one run: `ms.cmd.<runId>.<verb>` (documented, the sender unverified) or,
 * sent as NATS user `user`, `ms.as.<user>.cmd.<runId>.<verb>` (the worker records `user` as the principal).
 */
export function commandSubject(runId: string, verb: string, user?: string): string {
  return `${commandPrefix(user)}.${checkId('runId', runId)}.${checkId('verb', verb)}`;
}

/** The subject of the "create a run" command (no run id yet): `ms.cmd.init`, or `ms.as.<user>.cmd.init` sent as `user`. */
export function initCommandSubject(user?: string): string {
  return `${commandPrefix(user)}.init`;
}

/** The subject of the "list the runs" request (read-only): `ms.cmd.list`, or `ms.as.<user>.cmd.list` sent as `user`. */
export function listCommandSubject(user?: string): string {
  return `${commandPrefix(user)}.list`;
}

/**
 * A command subject's parts, or undefined when `subject` is not one. `principal`: the user token of
 * an authenticated subject; undefined on the documented subjects, where nobody vouched for the sender.
 */
export function parseCommandSubject(subject: string): { principal: string | undefined; runId: string | undefined; verb: string } | undefined {
  const parts = subject.split('.');
  if (parts[0] !== 'ms') return undefined;
  let principal: string | undefined;
  let rest: string[];
  if (parts[1] === 'cmd') rest = parts.slice(2);
  else if (parts[1] === 'as' && parts[3] === 'cmd') {
    principal = parts[2] ?? '';
    rest = parts.slice(4);
  } else return undefined;
  if (rest.length === 1 && (rest[0] === 'init' || rest[0] === 'list')) return { principal, runId: undefined, verb: rest[0] };
  if (rest.length === 2) return { principal, runId: rest[0] ?? '', verb: rest[1] ?? '' };
  return undefined;
}
