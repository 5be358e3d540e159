import { issuerText } from '../../events/run-events.ts';
import path from 'node:path';
import { getRun, listAttempts, listTasks, type AttemptView, type GateDecisionView } from '../../projections/queries.ts';
import { MatterStackError } from '../../events/errors.ts';
import { resolveWorkspaceDir } from '../../workspace/workspace.ts';
import { defineCommand, requiredArg } from '../command.ts';
import { EXIT_CODES } from '../exit-codes.ts';
import { formatTable } from '../format-table.ts';
import { assertLogHolds } from '../assert-log-holds.ts';
import { withStore } from '../open-store.ts';
import { parseId } from '../parse-id.ts';

/** `attempts <run> <task>`: every attempt of a task, oldest first, with absolute directories. */
export const attemptsCommand = defineCommand({
  name: 'attempts',
  summary: 'list every attempt of a task (reruns included), oldest first',
  description: [
    'Every attempt of the task with its status, operator, external id (pid, Slurm job id, …), times,',
    'status reason and directory. Earlier attempts and their directories are kept after a rerun.',
  ].join('\n'),
  group: 'views',
  args: [
    { name: 'run', required: true, description: 'the run id' },
    { name: 'task', required: true, description: 'the task id (see "matterstack status <run>")' },
  ],
  options: {},
  examples: ['attempts r1 relax_001', 'attempts r1 relax_001 --json | jq -r \'.[-1].dir\''],
  notes: [
    '--json prints an array of {"attemptId","status","operatorKey","externalId","dir" (absolute),"reason","createdAt","submittedAt","endedAt",\n"results":{"files","data"},"decision":{"verb","by","principal","comment","data"} (gates decided by approve / reject),…}.',
    'A results.json that is not a JSON object in a regular file of the attempt directory (a link out of it is not\nfollowed), or is over defaults.max_results_bytes of operators.yaml (default 1000000), fails the attempt\nwith the reason (RESULTS_INVALID).',
  ],
  async run(ctx) {
    const runId = parseId('run id', requiredArg(ctx, 'run'));
    const taskId = parseId('task id', requiredArg(ctx, 'task'));
    return withStore(ctx, async (store) => {
      const db = await store.views();
      const run = getRun(db, runId);
      if (run === undefined) throw new MatterStackError('RUN_NOT_FOUND', `run ${runId} not found`, { runId });
      await assertLogHolds(store, [run]);
      if (!listTasks(db, runId).some((t) => t.id === taskId)) {
        throw new MatterStackError('TASK_NOT_FOUND', `task ${taskId} not found in run ${runId}`, { runId, taskId });
      }
      const base = workspaceDirOrRoot(store.root, run.workspace);
      const attempts = listAttempts(db, runId, taskId).map((a) => withAbsoluteDir(a, base));
      if (ctx.global.json) {
        ctx.out.data(attempts);
      } else if (attempts.length === 0) {
        ctx.out.line(`task ${taskId} has no attempt yet`);
      } else {
        const rows = attempts.map((a) => [a.attemptId, a.status, a.operatorKey, a.externalId, a.createdAt, a.endedAt, a.reason]);
        for (const line of formatTable(['attempt', 'status', 'operator', 'external id', 'created', 'ended', 'reason'], rows)) ctx.out.line(line);
        ctx.out.line('');
        for (const a of attempts) ctx.out.line(`${a.attemptId}  ${a.dir ?? '(no directory)'}`);
        for (const a of attempts) if (a.decision !== null) ctx.out.line(`${a.attemptId}  ${describeGateDecision(a.decision)}`);
      }
      return EXIT_CODES.OK;
    }, runId);
  },
});

// Operators report absolute directories today; a relative one is relative to the workspace.
function workspaceDirOrRoot(root: string, workspace: string | null): string {
  if (workspace === null) return root;
  try {
    return resolveWorkspaceDir(root, workspace);
  } catch {
    return path.join(root, workspace);
  }
}

function withAbsoluteDir(attempt: AttemptView, base: string): AttemptView {
  return attempt.dir === null || path.isAbsolute(attempt.dir) ? attempt : { ...attempt, dir: path.resolve(base, attempt.dir) };
}

/** `approved by alice; comment: looks right; data: {"batch":"B7"}` (whole: people decided on these values). */
function describeGateDecision(d: GateDecisionView): string {
  const issuer = issuerText(d.by, d.principal);
  const parts = [`${d.verb}${issuer !== undefined ? ` by ${issuer}` : ''}`];
  if (d.comment !== undefined) parts.push(`comment: ${d.comment}`);
  if (d.data !== undefined) parts.push(`data: ${JSON.stringify(d.data)}`);
  return parts.join('; ');
}
