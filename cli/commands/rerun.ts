import { BY_OPTION, defineCommand, flag, requiredArg } from '../command.ts';
import { parseId } from '../parse-id.ts';
import { sendRunCommand } from '../send-run-command.ts';

/** `rerun <run> <task> [--recursive]`: a new attempt of a finished task. */
export const rerunCommand = defineCommand({
  name: 'rerun',
  summary: 'run a finished task again (a new attempt; earlier ones are kept)',
  description: [
    'Gives the task a new attempt in a new directory; earlier attempts and their directories are kept',
    '(see "matterstack attempts <run> <task>"). With --recursive its dependants run again too.',
    'A COMPLETED or FAILED run returns to RUNNING; drive it with "matterstack loop <run>".',
  ].join('\n'),
  group: 'commands',
  args: [
    { name: 'run', required: true, description: 'the run id' },
    { name: 'task', required: true, description: 'the task to run again' },
  ],
  options: { recursive: { type: 'boolean', description: 'also rerun every task that depends on it' }, by: BY_OPTION },
  examples: ['rerun r1 relax_001', 'rerun r1 relax_001 --recursive && matterstack loop r1'],
  notes: ['Prints "accepted (seq N)"; refused (TASK_NOT_FOUND, TASK_ACTIVE, …) → one error line, non-zero exit.'],
  run: (ctx) =>
    sendRunCommand(ctx, requiredArg(ctx, 'run'), { type: 'CMD.RERUN', taskId: parseId('task id', requiredArg(ctx, 'task')), recursive: flag(ctx, 'recursive') }),
});
