import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { InitPayloadSchema, ListPayloadSchema, type CommandReplyMessage, type CommandVerb, type InitPayload, type ListPayload } from '../events/command-messages.ts';
import { errorMessage, isMatterStackError } from '../events/errors.ts';
import { AUTHENTICATED_SUBJECT_PREFIX, COMMAND_SUBJECT_PREFIX, parseCommandSubject } from '../events/subjects.ts';
import { describeIssues, parseBody, parseRunCommand, rejected } from './command-request.ts';

export { rejected } from './command-request.ts';

/** Queue group shared by every worker: each command reaches exactly one of them. */
export const COMMAND_QUEUE = 'matterstack-workers';

/** What the command service asks the worker to do. */
export interface CommandHandler {
  /**
   * Executes (or answers) a validated command. `forwarded`: it already went through the queue
   * group and was sent here as the run's owner — never forward it again. `principal`: the NATS
   * user the subject proves sent it (`ms.as.<user>.cmd.…`); undefined on the documented `ms.cmd.…`.
   * Returns `{ forwardTo }` when another worker owns the run.
   */
  command(runId: string, verb: CommandVerb, payload: Record<string, unknown>, forwarded: boolean, principal: string | undefined): Promise<CommandReplyMessage | { forwardTo: string }>;
  /**
   * Creates and starts hosting a run, or leaves it to a worker with fewer runs through
   * `forward` (undefined when another worker sent it here: host it, never forward it again).
   */
  init(payload: InitPayload, forward: InitForward | undefined): Promise<CommandReplyMessage>;
  /** Lists the runs of the log (`ms.cmd.list`); a handler without it refuses the request. */
  list?(payload: ListPayload): Promise<CommandReplyMessage>;
}

/** Sends the init being served to worker `workerId` and returns its reply (throws NoRespondersError when that worker is gone). */
export type InitForward = (workerId: string) => Promise<CommandReplyMessage>;

/** Options of `serveCommands`. */
export interface CommandServiceOptions {
  workerId: string;
  handler: CommandHandler;
  /** How long a forwarded command may take at the owner. */
  forwardTimeoutMs?: number;
  /**
   * True while `status` requests are to be left unanswered (documented and forwarded alike): a
   * status responder of this worker (distributed/status-responder.ts) answers them off this event loop.
   */
  statusElsewhere?: () => boolean;
  onError?: (error: unknown) => void;
}

/** A running command service; `stop()` unsubscribes (in-flight requests still get their reply). */
export interface CommandService {
  stop(): Promise<void>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The subject on which a worker takes commands forwarded to it as a run's owner, keeping the
 * sender's user token (only orchestrators may publish on `ms.wrk.>`).
 */
export function forwardSubject(workerId: string, commandSubject: string): string {
  return `ms.wrk.${workerId}.${commandSubject}`;
}

/** Turns a thrown error into a reply (MatterStackError codes verbatim; anything else is internal). */
export function replyOfError(error: unknown): CommandReplyMessage {
  if (isMatterStackError(error)) return rejected(error.code, error.message);
  return rejected('INTERNAL', errorMessage(error));
}

/**
 * Serves request/reply commands in the workers' queue group: the documented `ms.cmd.init`, `ms.cmd.list` and
 * `ms.cmd.<runId>.<verb>`, the same as NATS user `<user>` on `ms.as.<user>.cmd.…`; and
 * `ms.wrk.<workerId>.<command subject>` for commands forwarded to this worker as the owner of a run (the run's single writer executes its commands) and for inits left to it as a worker with fewer runs. Every payload is
 * validated before anything runs; replies are JSON (`CommandReplySchema`).
 */
export function serveCommands(nc: NatsConnection, options: CommandServiceOptions): CommandService {
  const { workerId, handler } = options;
  const forwardTimeoutMs = options.forwardTimeoutMs ?? 30_000;
  const respond = (msg: Msg, reply: CommandReplyMessage): void => {
    if (msg.reply) msg.respond(encoder.encode(JSON.stringify(reply)));
  };

  const dispatch = async (msg: Msg, subject: string, principal: string | undefined, runId: string, verb: string, forwarded: boolean): Promise<CommandReplyMessage> => {
    const parsed = parseRunCommand(msg.data, runId, verb, principal);
    if (!parsed.ok) return parsed.reply;
    const outcome = await handler.command(runId, parsed.verb, parsed.payload, forwarded, principal);
    if (!('forwardTo' in outcome)) return outcome;
    const answer = await nc.request(forwardSubject(outcome.forwardTo, subject), msg.data, { timeout: forwardTimeoutMs });
    return JSON.parse(decoder.decode(answer.data)) as CommandReplyMessage;
  };

  const onInit = async (msg: Msg, subject: string, forwarded: boolean): Promise<CommandReplyMessage> => {
    const body = parseBody(msg.data);
    if (!body.ok) return rejected('VALIDATION_FAILED', body.message);
    const parsed = InitPayloadSchema.safeParse(body.value);
    if (!parsed.success) return rejected('VALIDATION_FAILED', `invalid init payload: ${describeIssues(parsed.error)}`);
    const forward: InitForward = async (to) => {
      const answer = await nc.request(forwardSubject(to, subject), msg.data, { timeout: forwardTimeoutMs });
      return JSON.parse(decoder.decode(answer.data)) as CommandReplyMessage;
    };
    return handler.init(parsed.data, forwarded ? undefined : forward);
  };

  const onList = async (msg: Msg): Promise<CommandReplyMessage> => {
    const body = parseBody(msg.data);
    if (!body.ok) return rejected('VALIDATION_FAILED', body.message);
    const parsed = ListPayloadSchema.safeParse(body.value);
    if (!parsed.success) return rejected('VALIDATION_FAILED', `invalid list payload: ${describeIssues(parsed.error)}`);
    if (handler.list === undefined) return rejected('COMMAND_REJECTED', 'list is not served by this worker');
    return handler.list(parsed.data);
  };

  const serve = (msg: Msg, forwarded: boolean): void => {
    // A forwarded command's subject is `ms.wrk.<workerId>.` + the subject it was sent on.
    const subject = forwarded ? msg.subject.split('.').slice(3).join('.') : msg.subject;
    const command = parseCommandSubject(subject);
    let job: Promise<CommandReplyMessage>;
    if (command === undefined) job = Promise.resolve(rejected('VALIDATION_FAILED', `not a command subject: ${msg.subject} (commands go to ms.cmd.<run>.<verb> or ms.as.<user>.cmd.<run>.<verb>)`));
    else if (command.runId === undefined) {
      if (command.verb === 'init') job = onInit(msg, subject, forwarded);
      else if (forwarded) job = Promise.resolve(rejected('VALIDATION_FAILED', `${command.verb} is never forwarded: ${msg.subject}`));
      else job = onList(msg);
    }
    else if (command.verb === 'status' && options.statusElsewhere?.() === true) return;
    else job = dispatch(msg, subject, command.principal, command.runId, command.verb, forwarded);
    job.then(
      (reply) => respond(msg, reply),
      (error: unknown) => {
        options.onError?.(error);
        respond(msg, replyOfError(error));
      },
    );
  };

  const take = (error: Error | null, msg: Msg): void => (error ? options.onError?.(error) : serve(msg, false));
  const subs: Subscription[] = [
    nc.subscribe(`${COMMAND_SUBJECT_PREFIX}.>`, { queue: COMMAND_QUEUE, callback: take }),
    nc.subscribe(`${AUTHENTICATED_SUBJECT_PREFIX}.>`, { queue: COMMAND_QUEUE, callback: take }),
    nc.subscribe(`ms.wrk.${workerId}.>`, { callback: (error, msg) => (error ? options.onError?.(error) : serve(msg, true)) }),
  ];
  return {
    async stop() {
      for (const sub of subs) sub.unsubscribe();
    },
  };
}
