import { BY_OPTION, defineCommand, requiredArg, stringOption, type CommandSpec } from '../command.ts';
import { parseId } from '../parse-id.ts';
import { sendRunCommand } from '../send-run-command.ts';

/** approve / reject: a decision on a gate task waiting for a human. */
function gateDecision(name: 'approve' | 'reject', type: string, summary: string, description: string): CommandSpec {
  return defineCommand({
    name,
    summary,
    description,
    group: 'commands',
    args: [
      { name: 'run', required: true, description: 'the run id' },
      { name: 'gate-task', required: true, description: 'the gate task (listed under "Waiting for approval" by "matterstack status <run>")' },
    ],
    options: { comment: { type: 'string', valueName: 'TEXT', description: 'why (recorded in the log and the evidence)' }, by: BY_OPTION },
    examples: [`${name} r1 approve_synthesis --comment "looks right"`],
    notes: [
      'Prints "accepted (seq N)"; refused (NOT_A_GATE, GATE_NOT_WAITING, GATE_ALREADY_DECIDED, TASK_NOT_FOUND) → one error line, non-zero exit.',
      'A gate takes one decision: once an approve or a reject is accepted, any other is GATE_ALREADY_DECIDED (naming the\nfirst), even before a host has acted on it; a rerun of the gate makes a new attempt, which takes a new one.',
    ],
    run: (ctx) => {
      const comment = stringOption(ctx, 'comment');
      return sendRunCommand(ctx, requiredArg(ctx, 'run'), {
        type,
        taskId: parseId('task id', requiredArg(ctx, 'gate-task')),
        ...(comment !== undefined ? { comment } : {}),
      });
    },
  });
}

/** `approve <run> <gate-task>`. */
export const approveCommand = gateDecision(
  'approve',
  'CMD.APPROVE',
  'approve a gate waiting for a human',
  'The gate task COMPLETES and the tasks that depend on it may run.',
);

/** `reject <run> <gate-task>`. */
export const rejectCommand = gateDecision(
  'reject',
  'CMD.REJECT',
  'reject a gate waiting for a human',
  'The gate task FAILS with the comment as its reason; tasks that depend on it are SKIPPED and the\nrun FAILS (unless the gate allows failure).',
);
