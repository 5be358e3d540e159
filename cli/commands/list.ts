import { listRuns } from '../../projections/queries.ts';
import { defineCommand, flag } from '../command.ts';
import { EXIT_CODES } from '../exit-codes.ts';
import { formatTable } from '../format-table.ts';
import { assertLogHolds } from '../assert-log-holds.ts';
import { withStore } from '../open-store.ts';

/** `list [--all]`: active runs (PENDING, RUNNING, PAUSED), or every run. */
export const listCommand = defineCommand({
  name: 'list',
  summary: 'list active runs (or all with --all)',
  description: 'Lists the runs of every workspace under the root (nested slugs included), oldest first.\nWithout --all only active runs: PENDING, RUNNING or PAUSED.',
  group: 'views',
  args: [],
  options: { all: { type: 'boolean', description: 'include finished runs (COMPLETED, FAILED, CANCELLED)' } },
  examples: ['list', 'list --all --json | jq -r \'.[] | select(.status=="FAILED") | .runId\''],
  notes: ['--json prints an array of {"runId","workspace","status","statusReason","phase","iteration","createdAt","updatedAt",…}.'],
  async run(ctx) {
    const all = flag(ctx, 'all');
    return withStore(ctx, async (store) => {
      const views = await store.views();
      await assertLogHolds(store, listRuns(views, { all: true }));
      const runs = listRuns(views, { all });
      if (ctx.global.json) {
        ctx.out.data(runs);
      } else if (runs.length === 0) {
        ctx.out.line(all ? 'no runs' : 'no active runs (use --all to see finished ones)');
      } else {
        const rows = runs.map((r) => [r.runId, r.workspace, r.status, r.phase, r.iteration, r.updatedAt]);
        for (const line of formatTable(['run', 'workspace', 'status', 'phase', 'iteration', 'updated'], rows)) ctx.out.line(line);
      }
      return EXIT_CODES.OK;
    });
  },
});
