import { parseWorkspaceSlug } from '../../workspace/workspace.ts';
import { RUN_STATUSES, type RunStatus } from '../../events/statuses.ts';
import { listRuns, type ListRunsOptions, type RunView } from '../../projections/queries.ts';
import { isMatterStackError } from '../../events/errors.ts';
import { defineCommand, flag, stringOption, type CommandContext } from '../command.ts';
import { natsRunList } from '../nats-list.ts';
import { natsTarget } from '../nats-target.ts';
import { EXIT_CODES } from '../exit-codes.ts';
import { formatTable } from '../format-table.ts';
import { assertLogHolds } from '../assert-log-holds.ts';
import { withStore } from '../open-store.ts';
import { parseSince } from '../parse-since.ts';
import { UsageError } from '../usage-error.ts';

function parseStatuses(value: string): RunStatus[] {
  const statuses = value.split(',').map((s) => s.trim().toUpperCase());
  for (const status of statuses) {
    if (!(RUN_STATUSES as readonly string[]).includes(status)) {
      throw new UsageError(`--status: unknown run status "${status}" (expected one or more of ${RUN_STATUSES.join(', ')}, comma-separated)`, 'list');
    }
  }
  return statuses as RunStatus[];
}

function parseWorkspaceOption(value: string): string {
  try {
    return parseWorkspaceSlug(value);
  } catch (error) {
    throw new UsageError(`--workspace: ${error instanceof Error ? error.message : String(error)}`, 'list');
  }
}

/** `list [--all] [--status S,…] [--workspace SLUG] [--since WHEN]`: runs, latest activity first. */
export const listCommand = defineCommand({
  name: 'list',
  summary: 'list active runs (or all with --all), latest activity first',
  description:
    'Lists the runs of every workspace under the root (nested slugs included), the one with the latest activity\n' +
    '(the time of its latest record) first. Without --all or --status only active runs: PENDING, RUNNING or PAUSED.',
  group: 'views',
  args: [],
  options: {
    all: { type: 'boolean', description: 'include finished runs (COMPLETED, FAILED, CANCELLED)' },
    status: { type: 'string', valueName: 'S[,S…]', description: `only runs in these statuses (${RUN_STATUSES.join(', ')}); implies --all` },
    workspace: { type: 'string', valueName: 'SLUG', description: 'only runs of this workspace (e.g. demos/battery_screening)' },
    since: { type: 'string', valueName: 'WHEN', description: 'only runs active since WHEN: a duration back from now (30m, 2h, 3d, 1w) or an ISO date' },
  },
  examples: ['list', 'list --status FAILED,CANCELLED --since 3d', 'list --all --workspace lab --json | jq -r \'.[].runId\''],
  notes: [
    '--json prints an array of {"runId","workspace","status","statusReason","phase","iteration","createdAt","updatedAt",…};',
    'updatedAt is the last activity.',
    'With --nats a worker answers (ms.cmd.list: any NATS user, the viewer too); with no worker it reads JetStream itself.',
  ],
  async run(ctx) {
    const all = flag(ctx, 'all');
    const statusText = stringOption(ctx, 'status');
    const workspaceText = stringOption(ctx, 'workspace');
    const sinceText = stringOption(ctx, 'since');
    // Checked before the store opens: a bad option touches nothing.
    const statuses = statusText === undefined ? undefined : parseStatuses(statusText);
    const workspace = workspaceText === undefined ? undefined : parseWorkspaceOption(workspaceText);
    const since = sinceText === undefined ? undefined : parseSince('since', sinceText, new Date(), 'list');
    const filters = {
      all,
      ...(statuses !== undefined ? { statuses } : {}),
      ...(workspace !== undefined ? { workspace } : {}),
      ...(since !== undefined ? { since } : {}),
    };
    const runs = await listedRuns(ctx, filters);
    const filtered = statuses !== undefined || workspace !== undefined || since !== undefined;
    if (ctx.global.json) {
      ctx.out.data(runs);
    } else if (runs.length === 0) {
      ctx.out.line(filtered ? 'no matching runs' : all ? 'no runs' : 'no active runs (use --all to see finished ones)');
    } else {
      const rows = runs.map((r) => [r.runId, r.workspace, r.status, r.phase, r.iteration, r.updatedAt]);
      for (const line of formatTable(['run', 'workspace', 'status', 'phase', 'iteration', 'last activity'], rows)) ctx.out.line(line);
    }
    return EXIT_CODES.OK;
  },
});

type Filters = Pick<ListRunsOptions, 'all' | 'statuses' | 'workspace' | 'since'>;

/** The runs from the local projections of the log (embedded, or JetStream read directly). */
function projectedRuns(ctx: CommandContext, filters: Filters): Promise<RunView[]> {
  return withStore(ctx, async (store) => {
    const views = await store.views();
    await assertLogHolds(store, listRuns(views, { all: true }));
    return listRuns(views, { ...filters, order: 'activity' });
  });
}

/**
 * With --nats, asks a worker (any NATS user, the viewer too, who may not read the stream); when no
 * worker serves the subject, reads the JetStream log itself so list works without one.
 */
async function listedRuns(ctx: CommandContext, filters: Filters): Promise<RunView[]> {
  const target = natsTarget(ctx);
  if (target === undefined) return projectedRuns(ctx, filters);
  const { all, statuses, workspace, since } = filters;
  try {
    return await natsRunList(target, {
      all: all === true,
      ...(statuses !== undefined ? { statuses: [...statuses] } : {}),
      ...(workspace !== undefined ? { workspace } : {}),
      ...(since !== undefined ? { since: since.toISOString() } : {}),
    });
  } catch (error) {
    if (!isMatterStackError(error) || error.details.reason !== 'no-responders') throw error;
    // A user who may not read the stream (the viewer) needs a worker: say that, not the refused read.
    return projectedRuns(ctx, filters).catch((fallback: unknown) => {
      throw isMatterStackError(fallback) && fallback.details.reason === 'permission' ? error : fallback;
    });
  }
}
