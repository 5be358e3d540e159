import { getRunStatus } from '../../projections/queries.ts';
import { MatterStackError } from '../../events/errors.ts';
import { defineCommand, requiredArg, type CommandContext } from '../command.ts';
import { natsRunRequest } from '../nats-session.ts';
import { natsStatusView } from '../nats-status.ts';
import { natsTarget, type NatsTarget } from '../nats-target.ts';
import { parseId } from '../parse-id.ts';
import { withRun } from '../open-store.ts';
import { commandPrefix, statusJson, summaryLine } from '../run-status-format.ts';
import { exitCodeForStatus, RUN_OUTCOME_NOTE } from '../run-outcome.ts';

/**
 * With --nats the worker hosting the run drives it continuously: `step` checks the run is served
 * (ms.as.<user>.cmd.<run>.step) and prints its status, so scripts see the same output and exit codes.
 */
async function stepOverNats(ctx: CommandContext, target: NatsTarget, runId: string): Promise<number> {
  const reply = await natsRunRequest(target, runId, 'step', {});
  if (!reply.accepted) throw new MatterStackError('COMMAND_REJECTED', `step rejected for run ${runId}: ${reply.message} [${reply.code}]`, { runId });
  const view = await natsStatusView(target, runId);
  if (ctx.global.json) ctx.out.data(statusJson(view, commandPrefix(ctx)));
  else ctx.out.line(summaryLine(view));
  return exitCodeForStatus(view.status);
}

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
  notes: [
    RUN_OUTCOME_NOTE,
    '--json prints the same document as "status --json".',
    'With --nats the worker hosting the run steps it continuously: step only checks it is served and prints its status.',
    'On the embedded log a step hosts the run under its host lock: beside a running loop it is refused (exit 4), naming\nthe loop; while a cancel stops attempts it waits for it.',
  ],
  async run(ctx) {
    const target = natsTarget(ctx);
    if (target !== undefined) return stepOverNats(ctx, target, parseId('run id', requiredArg(ctx, 'run')));
    const { stepRun } = await import('../../host/drive-run.ts');
    return withRun(ctx, requiredArg(ctx, 'run'), async (handle) => {
      const status = await stepRun(handle, { driver: 'matterstack step', signal: ctx.signal });
      const view = getRunStatus(await handle.store.views(), handle.runId);
      if (view === undefined) throw new MatterStackError('RUN_NOT_FOUND', `run ${handle.runId} not found`, { runId: handle.runId });
      if (ctx.global.json) ctx.out.data(statusJson(view, commandPrefix(ctx)));
      else ctx.out.line(summaryLine(view));
      return exitCodeForStatus(status);
    });
  },
});
