import { getRunStatus } from '../../projections/queries.ts';
import { MatterStackError } from '../../events/errors.ts';
import { defineCommand, requiredArg } from '../command.ts';
import { EXIT_CODES } from '../exit-codes.ts';
import { withStore } from '../open-store.ts';
import { parseId } from '../parse-id.ts';
import { commandPrefix, statusJson, statusLines } from '../run-status-format.ts';

/** `status <run>`: the run, its task counts, a tasks table and the gates waiting for approval. */
export const statusCommand = defineCommand({
  name: 'status',
  summary: 'show a run: status, phase, tasks, gates waiting for approval',
  description: [
    'Shows the run id, workspace, status (with its reason), phase and iteration, how many tasks are in',
    'each status, a table of tasks (status, operator, attempts, current attempt, reason), and every',
    'gate waiting for a human, with its message and the approve / reject command to type.',
    'Read-only: it reads the projections, brought up to date with the log first.',
  ].join('\n'),
  group: 'views',
  args: [{ name: 'run', required: true, description: 'the run id (see "matterstack list")' }],
  options: {},
  examples: ['status 20250101_120000_1a2b3c4d', 'status r1 --json | jq -r .status'],
  notes: [
    '--json prints {"runId","workspace","status","statusReason","phase","iteration","counts":{STATUS:n},',
    '"tasks":[{"id","status","operatorKey","attempts","currentAttemptId",…}],"gates":[{"taskId","message","approve","reject"}]}.',
  ],
  async run(ctx) {
    const runId = parseId('run id', requiredArg(ctx, 'run'));
    return withStore(ctx, async (store) => {
      const view = getRunStatus(await store.views(), runId);
      if (view === undefined) throw new MatterStackError('RUN_NOT_FOUND', `run ${runId} not found`, { runId });
      const prefix = commandPrefix(ctx);
      if (ctx.global.json) ctx.out.data(statusJson(view, prefix));
      else for (const line of statusLines(view, prefix)) ctx.out.line(line);
      return EXIT_CODES.OK;
    });
  },
});
