import { BY_OPTION, defineCommand, requiredArg } from '../command.ts';
import { parseId } from '../parse-id.ts';
import { CANCEL_WAIT_NOTE, WAIT_TIMEOUT_OPTION } from '../cancel-wait.ts';
import { sendRunCommand } from '../send-run-command.ts';

/** `cancel-attempt <run> <attempt>`: cancels one active attempt through its operator. */
export const cancelAttemptCommand = defineCommand({
  name: 'cancel-attempt',
  summary: 'cancel one active attempt',
  description: 'Cancels one active attempt through its operator (process killed, Slurm job cancelled) before it\nreturns. Its task becomes CANCELLED; rerun it with "matterstack rerun <run> <task>".',
  group: 'commands',
  args: [
    { name: 'run', required: true, description: 'the run id' },
    { name: 'attempt', required: true, description: 'the attempt id (see "matterstack attempts <run> <task>")' },
  ],
  options: { by: BY_OPTION, 'wait-timeout': WAIT_TIMEOUT_OPTION },
  examples: ['cancel-attempt r1 relax_001-a2'],
  notes: ['Prints "accepted (seq N)"; refused (ATTEMPT_NOT_FOUND, ATTEMPT_NOT_ACTIVE) → one error line, non-zero exit.', CANCEL_WAIT_NOTE],
  run: (ctx) => sendRunCommand(ctx, requiredArg(ctx, 'run'), { type: 'CMD.CANCEL_ATTEMPT', attemptId: parseId('attempt id', requiredArg(ctx, 'attempt')) }),
});
