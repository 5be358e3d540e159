import { BY_OPTION, defineCommand, requiredArg, type CommandSpec } from '../command.ts';
import { CANCEL_WAIT_NOTE, WAIT_TIMEOUT_OPTION } from '../cancel-wait.ts';
import { sendRunCommand } from '../send-run-command.ts';

const RUN_ARG = { name: 'run', required: true, description: 'the run id (see "matterstack list")' } as const;
const REPLY_NOTE = 'Prints "accepted (seq N)" (--json: {"accepted":true,"seq":N}); a refused command prints one\n"error: … [CODE]" line (--json: {"error":{"code","message"}}) and exits non-zero. Refusals are recorded in the log too.';

/** pause / resume / cancel / revive: a command with no argument but the run. */
function runCommand(name: string, type: string, summary: string, description: string, extra: Partial<Pick<CommandSpec, 'options' | 'notes'>> = {}): CommandSpec {
  return defineCommand({
    name,
    summary,
    description,
    group: 'commands',
    args: [RUN_ARG],
    options: { by: BY_OPTION, ...extra.options },
    examples: [`${name} 20250101_120000_1a2b3c4d`, `${name} r1 --by alice --json`],
    notes: [REPLY_NOTE, ...(extra.notes ?? [])],
    run: (ctx) => sendRunCommand(ctx, requiredArg(ctx, 'run'), { type }),
  });
}

/** `pause <run>`. */
export const pauseCommand = runCommand(
  'pause',
  'CMD.PAUSE',
  'pause a run: nothing new is dispatched',
  'Stops dispatching new attempts. Attempts already running keep running and their outcomes are\nstill recorded, so nothing is lost while paused. Undo with "matterstack resume <run>".',
);

/** `resume <run>`. */
export const resumeCommand = runCommand('resume', 'CMD.RESUME', 'resume a paused run', 'Lets a PAUSED run dispatch again. Refused (NOT_PAUSED) unless the run is paused.');

/** `cancel <run>`. */
export const cancelCommand = runCommand(
  'cancel',
  'CMD.CANCEL',
  'cancel a run and every active attempt',
  'Cancels every active attempt through its operator (processes killed, Slurm jobs scancel-ed), then\nthe run is CANCELLED. The attempts are stopped before the command returns (by this command, or by\nthe loop hosting the run); "matterstack revive <run>" brings it back.',
  { options: { 'wait-timeout': WAIT_TIMEOUT_OPTION }, notes: [CANCEL_WAIT_NOTE] },
);

/** `revive <run>`. */
export const reviveCommand = runCommand(
  'revive',
  'CMD.REVIVE',
  'bring a FAILED or CANCELLED run back to RUNNING',
  'A FAILED or CANCELLED run returns to RUNNING; failed and cancelled tasks get new attempts when\nthe run is stepped again ("matterstack loop <run>").',
);
