import { Hono } from 'hono';
import { z } from 'zod';
import type Database from 'better-sqlite3';
import { isMatterStackError } from '../events/errors.ts';
import { IdSchema } from '../events/ids.ts';
import { RUN_STATUSES } from '../events/statuses.ts';
import { getCampaignStates, getRun, getRunStatus, listAttempts, listCommands, listRuns, type RunStatusView } from '../projections/queries.ts';
import type { RunStore } from '../host/run-store.ts';
import { readAttemptLog } from '../views/attempt-logs.ts';
import { explainRun } from '../views/explain-run.ts';
import { hintLines, reasonText } from '../views/format-explanation.ts';
import { replayTimeline, stateAt } from '../views/replay-run.ts';
import { workspaceDirOf } from '../workspace/workspace.ts';
import { dagTask, timelineAttempt } from './live-deltas.ts';

/** Lines of each stream a task panel shows. */
const LOG_TAIL_LINES = 60;
const LOG_MAX_BYTES = 64 * 1024;

const RunsQuerySchema = z.object({ status: z.enum(RUN_STATUSES).optional(), workspace: z.string().min(1).optional() });
const LogQuerySchema = z.object({ stream: z.enum(['stdout', 'stderr']).default('stdout'), offset: z.coerce.number().int().nonnegative().optional() });
const SeqSchema = z.coerce.number().int().nonnegative();

/** Brings the projections up to date one caller at a time (many pages and the live feed ask at once). */
export function serialViews(store: RunStore): () => Promise<Database.Database> {
  let last: Promise<unknown> = Promise.resolve();
  return () => {
    const next = last.then(() => store.views());
    // Only the order is kept here: the caller awaiting `next` gets its failure and reports it.
    last = next.catch(() => undefined);
    return next;
  };
}

/** A 400 naming the parameter at fault. */
function badInput(field: string, error: z.ZodError): { error: { code: string; message: string } } {
  return { error: { code: 'VALIDATION_FAILED', message: `invalid ${field}: ${error.issues[0]?.message ?? 'invalid'}` } };
}

/** The read-only JSON API the page shows: runs, a run, its attempts, logs, explanation, replay and campaign states. */
export function readApi(store: RunStore, views: () => Promise<Database.Database>): Hono {
  const api = new Hono();

  api.onError((error, c) => {
    if (isMatterStackError(error, 'RUN_NOT_FOUND')) return c.json({ error: { code: error.code, message: error.message } }, 404);
    if (isMatterStackError(error)) return c.json({ error: { code: error.code, message: error.message } }, 400);
    throw error;
  });

  api.get('/runs', async (c) => {
    const query = RunsQuerySchema.safeParse(c.req.query());
    if (!query.success) return c.json(badInput('filter', query.error), 400);
    const db = await views();
    const runs = listRuns(db, { all: true, order: 'activity', ...(query.data.status ? { statuses: [query.data.status] } : {}), ...(query.data.workspace ? { workspace: query.data.workspace } : {}) });
    const progress = db.prepare('SELECT run_id AS runId, COUNT(*) AS total, SUM(status = \'COMPLETED\') AS done FROM tasks GROUP BY run_id').all() as { runId: string; total: number; done: number }[];
    const byRun = new Map(progress.map((p) => [p.runId, p]));
    return c.json(runs.map((run) => ({ ...run, tasksTotal: byRun.get(run.runId)?.total ?? 0, tasksDone: byRun.get(run.runId)?.done ?? 0 })));
  });

  // Every open page of a run asks for it after each change: the answer is made once per (run, last seq).
  const runBodies = new Map<string, { lastSeq: number; body: string }>();
  api.get('/runs/:run', async (c) => {
    const runId = IdSchema.parse(c.req.param('run'));
    const db = await views();
    const run = getRun(db, runId);
    if (run === undefined) return c.json({ error: { code: 'RUN_NOT_FOUND', message: `run ${runId} not found` } }, 404);
    let cached = runBodies.get(runId);
    if (cached?.lastSeq !== run.lastSeq) {
      const view = getRunStatus(db, runId, { withState: true }) as RunStatusView;
      cached = { lastSeq: view.lastSeq, body: JSON.stringify({ ...view, tasks: view.tasks.map(dagTask) }) };
      runBodies.set(runId, cached);
    }
    return c.body(cached.body, 200, { 'content-type': 'application/json; charset=utf-8' });
  });

  // As the timeline draws them, with the seq they are as of, so the page can tell which live deltas it still needs.
  api.get('/runs/:run/attempts', async (c) => {
    const runId = IdSchema.parse(c.req.param('run'));
    const db = await views();
    const run = getRun(db, runId);
    if (run === undefined) return c.json({ error: { code: 'RUN_NOT_FOUND', message: `run ${runId} not found` } }, 404);
    return c.json({ lastSeq: run.lastSeq, attempts: listAttempts(db, runId).map(timelineAttempt) });
  });

  api.get('/runs/:run/commands', async (c) => c.json(listCommands(await views(), IdSchema.parse(c.req.param('run')))));

  api.get('/runs/:run/states', async (c) => c.json(getCampaignStates(await views(), IdSchema.parse(c.req.param('run')))));

  api.get('/runs/:run/tasks/:task', async (c) => {
    const runId = IdSchema.parse(c.req.param('run'));
    const taskId = IdSchema.parse(c.req.param('task'));
    const db = await views();
    const run = getRunStatus(db, runId);
    if (run === undefined) return c.json({ error: { code: 'RUN_NOT_FOUND', message: `run ${runId} not found` } }, 404);
    const task = run.tasks.find((t) => t.id === taskId);
    if (task === undefined) return c.json({ error: { code: 'TASK_NOT_FOUND', message: `run ${runId} has no task ${taskId}` } }, 404);
    const explanation = await explainRun({ runId, store, workspaceDir: workspaceDirOf(store.root, run.workspace ?? '') });
    const entry = explanation.tasks.find((t) => t.id === taskId);
    const explain = entry === undefined ? null : { reason: reasonText(entry.why), details: entry.why.kind === 'waiting-operator' ? hintLines(entry.why.hint) : [] };
    return c.json({ task, attempts: listAttempts(db, runId, taskId), explain });
  });

  api.get('/runs/:run/tasks/:task/log', async (c) => {
    const runId = IdSchema.parse(c.req.param('run'));
    const taskId = IdSchema.parse(c.req.param('task'));
    const query = LogQuerySchema.safeParse(c.req.query());
    if (!query.success) return c.json(badInput('log request', query.error), 400);
    const { stream, offset } = query.data;
    const chunk = await readAttemptLog(store, runId, { taskId, stream, maxBytes: LOG_MAX_BYTES, ...(offset !== undefined ? { offset } : { tailLines: LOG_TAIL_LINES }) });
    return c.json({ ...chunk, data: chunk.data.toString('utf8') });
  });

  api.get('/runs/:run/events', async (c) => {
    const runId = IdSchema.parse(c.req.param('run'));
    const entries = await replayTimeline(store.log, runId);
    return c.json(entries.map(({ seq, time, actor, type, changes }) => ({ seq, time, actor, type, changes })));
  });

  api.get('/runs/:run/at/:seq', async (c) => {
    const runId = IdSchema.parse(c.req.param('run'));
    const seq = SeqSchema.safeParse(c.req.param('seq'));
    if (!seq.success) return c.json(badInput('seq', seq.error), 400);
    return c.json(await stateAt(store.log, runId, seq.data));
  });

  return api;
}
