import { defineCommand, requiredArg } from '../command.ts';
import { EXIT_CODES } from '../exit-codes.ts';
import { withRun } from '../open-store.ts';

/** `explain <run>`: why the run is where it is, task by task, with what to do next. */
export const explainCommand = defineCommand({
  name: 'explain',
  summary: 'why each unfinished task is not done, and what to do next',
  description: [
    'For every task that is not COMPLETED: waiting for its operator (with where to look: the gate',
    'directory and approve command, the experiment request file, the pid and log files), ready but',
    'no free slot (which cap is full), blocked by which dependencies, skipped because of which',
    'failure, failed with which reason (with the attempt\'s stdout/stderr paths and the last lines of its',
    'stderr). Names the `loop` or worker driving the run, if one does. Ends with the next steps (resume,',
    'approve, rerun, revive, or start a loop when nothing drives the run...).',
  ].join('\n'),
  group: 'views',
  args: [{ name: 'run', required: true, description: 'the run id' }],
  options: {},
  examples: ['explain r1', 'explain r1 --json | jq ".tasks[] | {id, why}"'],
  notes: ['--json prints the explanation object: {runId, status, phase, iteration, slots, tasks:[{id, status, why}], driver, nextSteps}\n(driver: {driver, pid, host, since, checked} or null; a failed task\'s why.logs: {stdout, stderr, stderrTail}).'],
  async run(ctx) {
    const { explainRun, formatExplanation } = await import('../../actors/views/index.ts');
    return withRun(ctx, requiredArg(ctx, 'run'), async (handle) => {
      const explanation = await explainRun(handle);
      if (ctx.global.json) ctx.out.data(explanation);
      else ctx.out.write(formatExplanation(explanation));
      return EXIT_CODES.OK;
    });
  },
});
