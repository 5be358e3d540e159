import { getRunStatus, type RunStatusView } from '../../projections/queries.ts';
import { isMatterStackError, MatterStackError } from '../../events/errors.ts';
import { defineCommand, flag, requiredArg, type CommandContext } from '../command.ts';
import { natsStatusView } from '../nats-status.ts';
import { natsTarget } from '../nats-target.ts';
import { EXIT_CODES } from '../exit-codes.ts';
import { assertLogHolds } from '../assert-log-holds.ts';
import { withStore } from '../open-store.ts';
import { parseId } from '../parse-id.ts';
import { commandPrefix, statusJson, statusLines } from '../run-status-format.ts';
import { withSharedSlotWaits } from '../../views/shared-slot-wait.ts';
import { slotDocsOf } from '../slot-docs.ts';

/** The view from the local projections of the log (embedded, or JetStream read directly). */
function projectedView(ctx: CommandContext, runId: string): Promise<RunStatusView> {
  return withStore(ctx, async (store) => {
    const view = getRunStatus(await store.views(), runId, { withState: true });
    if (view === undefined) throw new MatterStackError('RUN_NOT_FOUND', `run ${runId} not found`, { runId });
    await assertLogHolds(store, [view]);
    return withSharedSlotWaits(view, await slotDocsOf(store));
  }, runId);
}

/**
 * With --nats, asks the worker hosting the run (fresh, and allowed to the viewer user); when no
 * worker serves the subject at all, reads the JetStream log itself so status works without one.
 */
export async function statusView(ctx: CommandContext, runId: string): Promise<RunStatusView> {
  const target = natsTarget(ctx);
  if (target === undefined) return projectedView(ctx, runId);
  try {
    return await natsStatusView(target, runId);
  } catch (error) {
    if (!isMatterStackError(error) || error.details.reason !== 'no-responders') throw error;
    // The log's own answer (unknown run) beats "no worker"; any other failure there (e.g. a viewer
    // may not read JetStream) would hide the real problem, which is the missing worker.
    return projectedView(ctx, runId).catch((fallback: unknown) => {
      throw isMatterStackError(fallback, 'RUN_NOT_FOUND') ? fallback : error;
    });
  }
}

/** `status <run>`: the run, its task counts, a tasks table and the gates waiting for approval. */
export const statusCommand = defineCommand({
  name: 'status',
  summary: 'show a run: status, phase, tasks, gates waiting for approval',
  description: [
    'Shows the run id, workspace, status (with its reason), phase and iteration, how many tasks are in',
    'each status, a table of tasks (status, operator, attempts, current attempt, reason), and every',
    'gate waiting for a human, with its message and the approve / reject command to type.',
    'Read-only: it reads the projections, brought up to date with the log first. With --nats it asks',
    'the worker hosting the run (any NATS user, the viewer too); with no worker it reads JetStream itself.',
    'The campaign state (what the last `analyze` returned) is shown folded to one line; --state prints it whole.',
  ].join('\n'),
  group: 'views',
  args: [{ name: 'run', required: true, description: 'the run id (see "matterstack list")' }],
  options: {
    state: { type: 'boolean', description: 'print only the campaign state, whole, as indented JSON (null before the first analyze)' },
  },
  examples: ['status 20250101_120000_1a2b3c4d', 'status r1 --json | jq -r .status', 'status r1 --state'],
  notes: [
    '--json prints {"runId","workspace","status","statusReason","phase","iteration","counts":{STATUS:n},',
    '"tasks":[{"id","status","operatorKey","attempts","currentAttemptId",…}],"gates":[{"taskId","message","approve","reject"}],',
    '"campaignState":{"iteration","state","time","seq"} (null before the first plan)}; values are never cut.',
  ],
  async run(ctx) {
    const runId = parseId('run id', requiredArg(ctx, 'run'));
    const view = await statusView(ctx, runId);
    if (flag(ctx, 'state')) {
      ctx.out.write(`${JSON.stringify(view.campaignState?.state ?? null, null, ctx.global.json ? undefined : 2)}\n`);
      return EXIT_CODES.OK;
    }
    const prefix = commandPrefix(ctx);
    if (ctx.global.json) ctx.out.data(statusJson(view, prefix));
    else for (const line of statusLines(view, prefix)) ctx.out.line(line);
    return EXIT_CODES.OK;
  },
});
