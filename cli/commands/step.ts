import { getRunStatus } from '../../projections/queries.ts';
import { MatterStackError } from '../../events/errors.ts';
import { defineCommand, requiredArg } from '../command.ts';
import { withRun } from '../open-store.ts';
import { commandPrefix, statusJson, summaryLine } from '../run-status-format.ts';
import { exitCodeForStatus, RUN_OUTCOME_NOTE } from '../run-outcome.ts';

/** `step <run>`: one cycle (poll, plan, execute, analyze), then the run's status. */
export const stepCommand = defineCommand({
  name: 'step',
  summary: 'advance a run by one cycle and print its status',
  description: [
    'One cycle: polls every active attempt, then plans, dispatches ready tasks (within the concurrency',
    'caps) and, when the workflow is finished, lets the campaign analyze and plan the next one. Waits',
    'for the submissions it started, not for the tasks to finish: call it again (or use "loop").',
  ].join('\n'),
  group: 'runs',
  args: [{ name: 'run', required: true, description: 'the run id' }],
  options: {},
  examples: ['step 20250101_120000_1a2b3c4d', 'until matterstack step r1 --json | jq -e \'.status=="COMPLETED"\'; do sleep 5; done'],
  notes: [RUN_OUTCOME_NOTE, '--json prints the same document as "status --json".'],
  async run(ctx) {
    const { stepRun } = await import('../../actors/run-lifecycle.ts');
    return withRun(ctx, requiredArg(ctx, 'run'), async (handle) => {
      const status = await stepRun(handle);
      const view = getRunStatus(await handle.store.views(), handle.runId);
      if (view === undefined) throw new MatterStackError('RUN_NOT_FOUND', `run ${handle.runId} not found`, { runId: handle.runId });
      if (ctx.global.json) ctx.out.data(statusJson(view, commandPrefix(ctx)));
      else ctx.out.line(summaryLine(view));
      return exitCodeForStatus(status);
    });
  },
});
