import { MatterStackError } from './errors.ts';
import { isValidId } from './ids.ts';

/** Prefix of every event subject; the events stream captures `ms.evt.>`. */
export const EVENT_SUBJECT_PREFIX = 'ms.evt';
/** The events stream's subject filter. */
export const EVENT_SUBJECTS = `${EVENT_SUBJECT_PREFIX}.>`;
/** Prefix of every command subject: `ms.cmd.<user>.…`. */
export const COMMAND_SUBJECT_PREFIX = 'ms.cmd';
/** The user token of a client that connected without a NATS user (a server without authorization). */
export const ANONYMOUS_USER_TOKEN = '_';

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

function userToken(user: string | undefined): string {
  return user === undefined ? ANONYMOUS_USER_TOKEN : checkId('NATS user', user);
}

/**
 * The subject of a command to one run sent as NATS user `user`: `ms.cmd.<user>.<runId>.<verb>`.
 * nats.conf lets each user publish only under its own name, so the server, not the client, vouches
 * for the user token: the worker records it as the command's principal.
 */
export function commandSubject(runId: string, verb: string, user?: string): string {
  return `${COMMAND_SUBJECT_PREFIX}.${userToken(user)}.${checkId('runId', runId)}.${checkId('verb', verb)}`;
}

/** The subject of the "create a run" command (no run id yet) sent as `user`: `ms.cmd.<user>.init`. */
export function initCommandSubject(user?: string): string {
  return `${COMMAND_SUBJECT_PREFIX}.${userToken(user)}.init`;
}

/** A command subject's parts (`principal` undefined for the anonymous token), or undefined when `subject` is not one. */
export function parseCommandSubject(subject: string): { principal: string | undefined; runId: string | undefined; verb: string } | undefined {
  const parts = subject.split('.');
  if (parts[0] !== 'ms' || parts[1] !== 'cmd') return undefined;
  const user = parts[2] ?? '';
  const principal = user === ANONYMOUS_USER_TOKEN ? undefined : user;
  if (parts.length === 4 && parts[3] === 'init') return { principal, runId: undefined, verb: 'init' };
  if (parts.length === 5) return { principal, runId: parts[3] ?? '', verb: parts[4] ?? '' };
  return undefined;
}
