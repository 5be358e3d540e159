import { Hono } from 'hono';
import { z } from 'zod';
import { isMatterStackError } from '../events/errors.ts';
import { IdSchema } from '../events/ids.ts';
import { RUN_STATUSES, type RunStatus } from '../events/statuses.ts';
import type { RunStatusView, RunView } from '../projections/queries.ts';
import { dagTask } from './live-deltas.ts';
import type { WatchRuns } from './resync-feed.ts';

/**
 * What a NATS user who may not read the log (the viewer) may still ask a worker: the runs, and a
 * run's status view. The CLI provides them (web/ does not speak NATS).
 */
export interface WorkerReads {
  listRuns(filter: { statuses?: RunStatus[]; workspace?: string }): Promise<RunView[]>;
  runStatus(runId: string): Promise<RunStatusView>;
  /** Hears which runs' logs grow (without reading them): the pages then load again what changed. */
  watch?: WatchRuns;
}

const RunsQuerySchema = z.object({ status: z.enum(RUN_STATUSES).optional(), workspace: z.string().min(1).optional() });

/** The answer to what the worker does not serve to this user (attempts, history, logs, states). */
const NOT_READABLE = { error: { code: 'LOG_UNAVAILABLE', message: 'this page\'s NATS user may not read the event log: it shows the runs and their tasks as a worker reports them' } };

/** The read API of a page whose user may only ask workers: runs, a run, a task from its status; the rest is refused with the reason. */
export function workerReadApi(reads: WorkerReads): Hono {
  const api = new Hono();
  api.onError((error, c) => {
    if (isMatterStackError(error, 'RUN_NOT_FOUND')) return c.json({ error: { code: error.code, message: error.message } }, 404);
    if (isMatterStackError(error)) return c.json({ error: { code: error.code, message: error.message } }, 502);
    throw error;
  });

  api.get('/runs', async (c) => {
    const query = RunsQuerySchema.safeParse(c.req.query());
    if (!query.success) return c.json({ error: { code: 'VALIDATION_FAILED', message: `invalid filter: ${query.error.issues[0]?.message ?? 'invalid'}` } }, 400);
    const runs = await reads.listRuns({ ...(query.data.status ? { statuses: [query.data.status] } : {}), ...(query.data.workspace ? { workspace: query.data.workspace } : {}) });
    // The worker's list has no task counts: the page shows the progress as unknown.
    return c.json(runs.map((run) => ({ ...run, tasksTotal: null, tasksDone: null })));
  });

  api.get('/runs/:run', async (c) => {
    const view = await reads.runStatus(IdSchema.parse(c.req.param('run')));
    return c.json({ ...view, tasks: view.tasks.map(dagTask) });
  });

  api.get('/runs/:run/tasks/:task', async (c) => {
    const runId = IdSchema.parse(c.req.param('run'));
    const taskId = IdSchema.parse(c.req.param('task'));
    const task = (await reads.runStatus(runId)).tasks.find((t) => t.id === taskId);
    if (task === undefined) return c.json({ error: { code: 'TASK_NOT_FOUND', message: `run ${runId} has no task ${taskId}` } }, 404);
    return c.json({ task, attempts: [], explain: null });
  });

  api.get('/runs/:run/*', (c) => c.json(NOT_READABLE, 403));
  return api;
}
