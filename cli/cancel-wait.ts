import type { CancellationOutcome, CancelledAttempt } from '../host/carry-out-cancellations.ts';
import { stringOption, type CommandContext, type OptionSpec } from './command.ts';
import { EXIT_CODES } from './exit-codes.ts';
import { UsageError } from './usage-error.ts';

const DEFAULT_WAIT_SECONDS = 30;

/** `--wait-timeout SECONDS` of `cancel` and `cancel-attempt`. */
export const WAIT_TIMEOUT_OPTION: OptionSpec = {
  type: 'string',
  valueName: 'SECONDS',
  description: `how long to wait for the attempts to be stopped (default ${DEFAULT_WAIT_SECONDS}; 0: return at once, the loop or worker hosting the run stops them)`,
};

/** What `cancel`/`cancel-attempt` print about the wait, and their exit code when it ran out. */
export const CANCEL_WAIT_NOTE = [
  'The command returns once the attempts it cancels are stopped: with no loop or worker hosting the run it',
  'stops them itself (processes killed, Slurm jobs scancel-ed), holding the run\'s host lock meanwhile; while',
  'a loop, step or worker hosts the run it waits for that host to stop them. It prints "stopped: <attempt>',
  '(<operator> <pid or job id>) CANCELLED" for each one, then "stopped by <this command | the host>"; when',
  'some are still stopping after --wait-timeout it prints "still stopping after N s: …" and exits 13 (a later',
  'loop or worker finishes the job). --json: {"accepted","seq","stopped":[…],"stillStopping":[…],"stoppedBy"}.',
].join('\n');

/** `--wait-timeout` in ms (VALIDATION as a usage error naming the option). */
export function waitTimeoutMs(ctx: CommandContext): number {
  const text = stringOption(ctx, 'wait-timeout');
  if (text === undefined) return DEFAULT_WAIT_SECONDS * 1000;
  const seconds = Number(text);
  if (text.trim() === '' || !Number.isFinite(seconds) || seconds < 0) throw new UsageError(`--wait-timeout must be a number of seconds >= 0, got "${text}"`);
  return Math.round(seconds * 1000);
}

function describe(attempt: CancelledAttempt): string {
  const where = attempt.externalId !== undefined ? `${attempt.operatorKey} ${attempt.externalId}` : attempt.operatorKey;
  return `${attempt.attemptId} (${where}) ${attempt.status}`;
}

/** Prints what the cancel stopped (human lines, or fields added to the --json reply); returns the exit code. */
export function reportCancellation(ctx: CommandContext, seq: number, outcome: CancellationOutcome, timeoutMs: number): number {
  const code = outcome.stillStopping.length > 0 ? EXIT_CODES.CANCEL_PENDING : EXIT_CODES.OK;
  if (ctx.global.json) {
    ctx.out.data({ accepted: true, seq, stopped: outcome.stopped, stillStopping: outcome.stillStopping, ...(outcome.stoppedBy !== undefined ? { stoppedBy: outcome.stoppedBy } : {}) });
    return code;
  }
  ctx.out.line(`accepted (seq ${seq})`);
  for (const attempt of outcome.stopped) ctx.out.line(`stopped: ${describe(attempt)}`);
  if (outcome.stopped.length > 0 && outcome.stoppedBy !== undefined) ctx.out.line(`stopped by ${outcome.stoppedBy}`);
  if (outcome.stillStopping.length > 0) ctx.out.line(`still stopping after ${timeoutMs / 1000} s: ${outcome.stillStopping.map(describe).join(', ')}`);
  return code;
}
