import { osAccount } from '../host/os-account.ts';
import { ZodError } from 'zod';
import type { CancellationOutcome } from '../host/carry-out-cancellations.ts';
import { MatterStackError } from '../events/errors.ts';
import { RunCommandSchema, type RunCommand } from '../events/run-events.ts';
import { stringOption, type CommandContext } from './command.ts';
import { reportCancellation, waitTimeoutMs } from './cancel-wait.ts';
import { EXIT_CODES, exitCodeOf } from './exit-codes.ts';
import { COMMAND_PAYLOADS, type CommandVerb } from '../events/command-messages.ts';
import { natsRunRequest, type CliCommandReply } from './nats-session.ts';
import { natsTarget } from './nats-target.ts';
import { withRun } from './open-store.ts';
import { parseId } from './parse-id.ts';

/** Who issues a command: `--by`, else $USER, else the OS account name. */
export function issuer(ctx: CommandContext): string | undefined {
  const by = stringOption(ctx, 'by') ?? ctx.env.USER ?? ctx.env.USERNAME;
  return by || osAccount();
}

/** The value as an error line may show it: a long one is cut (a 10,000-character comment is no line). */
function shownValue(value: unknown): string {
  const text = String(value ?? '');
  return text.length > 40 ? `"${text.slice(0, 40)}…" (${text.length} characters)` : `"${text}"`;
}

/** VALIDATION_FAILED naming the field, its value and the rule it breaks. */
function invalid(error: ZodError, input: Record<string, unknown>): MatterStackError {
  const issue = error.issues[0];
  const field = issue?.path.join('.') || 'command';
  return new MatterStackError('VALIDATION_FAILED', `invalid ${field} ${shownValue(input[field])}: ${issue?.message ?? 'invalid'}`, { field });
}

/**
 * Validates the command with its event schema and with the NATS payload schema of its verb, so
 * that both paths accept exactly the same `--by` and `--comment` (VALIDATION_FAILED naming the field otherwise).
 */
function parseCommand(input: Record<string, unknown>): RunCommand {
  const parsed = RunCommandSchema.safeParse(input);
  if (!parsed.success) throw invalid(parsed.error, input);
  const { type: _type, ...payload } = parsed.data;
  const wire = COMMAND_PAYLOADS[verbOf(parsed.data)].safeParse(payload);
  if (!wire.success) throw invalid(wire.error, input);
  return parsed.data;
}

/** `CMD.CANCEL_ATTEMPT` → `cancel-attempt`: the verb of its NATS subject and of the CLI command. */
function verbOf(command: RunCommand): CommandVerb {
  return command.type.replace(/^CMD\./, '').toLowerCase().replace(/_/g, '-') as CommandVerb;
}

/** A reply, and for an accepted cancel what it stopped before returning. */
interface Delivered {
  reply: CliCommandReply;
  cancellation?: CancellationOutcome;
}

/**
 * Delivers the command: through a worker on `ms.as.<user>.cmd.<run>.<verb>` with --nats, else appended to
 * the embedded log. `cancelWaitMs`: an accepted cancel then waits (bounded) until its attempts are stopped.
 */
async function deliver(ctx: CommandContext, runId: string, command: RunCommand, verb: CommandVerb, cancelWaitMs: number | undefined): Promise<Delivered> {
  const target = natsTarget(ctx);
  const { awaitCancellations, stopCancelledAttempts } = await import('../host/carry-out-cancellations.ts');
  if (target !== undefined) {
    const { type: _type, ...payload } = command;
    const reply = await natsRunRequest(target, runId, verb, payload);
    if (!reply.accepted || cancelWaitMs === undefined || cancelWaitMs === 0) return { reply };
    // The worker hosting the run stops the attempts (it holds the run's lease): wait for its records.
    const seq = reply.seq;
    return { reply, cancellation: await withRun(ctx, runId, (handle) => awaitCancellations(handle, seq, cancelWaitMs)) };
  }
  const { sendCommand } = await import('../host/run-lifecycle.ts');
  return withRun(ctx, runId, async (handle) => {
    const reply = await sendCommand(handle, command);
    if (!reply.accepted || cancelWaitMs === undefined || cancelWaitMs === 0) return { reply };
    return { reply, cancellation: await stopCancelledAttempts(handle, reply.seq, cancelWaitMs) };
  });
}

/** A validated command delivered to its run, with its verb and what an accepted cancel waits for. */
interface Submitted extends Delivered {
  runId: string;
  verb: CommandVerb;
  cancelWaitMs: number | undefined;
}

/**
 * Validates one command (`{type: 'CMD.PAUSE', …}`, `by` added from --by or $USER) and delivers it to
 * run `runArg` as every command-sending command does (the web view's actions too); returns the reply.
 */
export async function submitRunCommand(ctx: CommandContext, runArg: string, input: Record<string, unknown>): Promise<Submitted> {
  const runId = parseId('run id', runArg);
  const by = issuer(ctx);
  const command = parseCommand({ ...input, ...(by !== undefined ? { by } : {}) });
  const verb = verbOf(command);
  const cancelWaitMs = command.type === 'CMD.CANCEL' || command.type === 'CMD.CANCEL_ATTEMPT' ? waitTimeoutMs(ctx) : undefined;
  return { runId, verb, cancelWaitMs, ...(await deliver(ctx, runId, command, verb, cancelWaitMs)) };
}

/**
 * Sends one command to run `runArg` and reports the reply:
 * `accepted (seq N)` and exit 0, or one `error:` line with the rejection code and a non-zero exit.
 */
export async function sendRunCommand(ctx: CommandContext, runArg: string, input: Record<string, unknown>): Promise<number> {
  const { runId, verb, cancelWaitMs, reply, cancellation } = await submitRunCommand(ctx, runArg, input);
  if (reply.accepted && cancellation !== undefined && cancelWaitMs !== undefined) return reportCancellation(ctx, reply.seq, cancellation, cancelWaitMs);
  if (reply.accepted) {
    if (ctx.global.json) ctx.out.data({ accepted: true, seq: reply.seq });
    else ctx.out.line(`accepted (seq ${reply.seq})`);
    return EXIT_CODES.OK;
  }
  const message = `${verb} rejected for run ${runId}: ${reply.message}`;
  if (ctx.global.json) ctx.out.data({ error: { code: reply.code, message } });
  else ctx.out.note(`error: ${message} [${reply.code}]`);
  return exitCodeOf(reply.code);
}
