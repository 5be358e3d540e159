import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { DomainChange } from '../events/changes.ts';
import type { StoredEvent, ValidNewEvent } from '../events/envelope.ts';
import type { EventLog } from '../events/event-log.ts';
import { SqliteEventLog } from '../storage/sqlite-event-log.ts';
import type { ChangeRecord } from '../storage/sqlite-rows.ts';
import type { TaskSpec } from '../events/workflow.ts';
import { Projector } from '../projections/projector.ts';

/** Size of the generated workload. */
export interface ProjectionsBenchOptions {
  /** @default 100 */
  runs?: number;
  /** Events per run (whole workflows, then phase changes up to the count). @default 10000 */
  eventsPerRun?: number;
  /** Tasks per workflow. @default 249 */
  tasksPerWorkflow?: number;
  /** Keep the temp directory (the log and projection files) instead of deleting it. */
  keep?: boolean;
}

/** The figures one bench run prints. */
export interface ProjectionsBenchResult {
  events: number;
  appendSeconds: number;
  readSeconds: number;
  rebuildSeconds: number;
  rebuildEventsPerSecond: number;
  /** Seconds of the rebuild spent waiting on the log's `readAll` (reading, parsing, validating). */
  rebuildReadSeconds: number;
  /** Rebuild events/s counting only the projector's own time (rebuild minus log reading). */
  projectorEventsPerSecond: number;
  rawUpsertsPerSecond: number;
  /** Rebuild events/s divided by raw upserts/s. */
  ratio: number;
  /** CPU seconds (user + system, every thread of the process) of the read-only pass and of the rebuild. */
  readCpuSeconds: number;
  rebuildCpuSeconds: number;
}

/** CPU seconds (user + system) since `since`, all threads of the process. */
function cpuSeconds(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
}

const EPOCH = Date.UTC(2025, 0, 1);
const CONCURRENCY = 10;

/** One run's history as a realistic host would log it: waves of attempts through their whole life. */
function* runHistory(runId: string, eventsPerRun: number, tasksPerWorkflow: number): Generator<ValidNewEvent> {
  let n = 0;
  const event = (type: string, actor: string, changes: DomainChange[], to: string): ValidNewEvent => {
    n += 1;
    return {
      eventId: `${runId}-${n}`,
      type,
      actor,
      time: new Date(EPOCH + n * 1000).toISOString(),
      payload: {},
      from: null,
      to,
      changes,
    };
  };
  yield event('RUN.CREATED', 'run', [{ kind: 'run.created', workspace: 'demos/screening', maxConcurrent: CONCURRENCY }], 'pending');
  yield event('STEP', 'run', [{ kind: 'run.status', status: 'RUNNING' }, { kind: 'run.phase', phase: 'plan' }], 'plan');
  for (let iteration = 0; n + 4 * tasksPerWorkflow + 2 <= eventsPerRun; iteration++) {
    const tasks: TaskSpec[] = [];
    for (let t = 0; t < tasksPerWorkflow; t++) {
      tasks.push({
        id: `i${iteration}_t${t}`,
        kind: 'compute',
        command: ['python', 'relax.py', `--structure=${t}`],
        dependencies: t >= CONCURRENCY ? [`i${iteration}_t${t - CONCURRENCY}`] : [],
        cores: 4,
        allowFailure: false,
        allowDependencyFailure: false,
      });
    }
    yield event('CAMPAIGN.PLANNED', 'run', [
      { kind: 'workflow.planned', iteration, tasks },
      { kind: 'campaign.state', iteration, state: { iteration, best: -1.5 - iteration, candidates: tasksPerWorkflow } },
      { kind: 'run.phase', phase: 'execute' },
    ], 'execute');
    for (let wave = 0; wave < tasksPerWorkflow; wave += CONCURRENCY) {
      const ids: string[] = [];
      for (let t = wave; t < Math.min(wave + CONCURRENCY, tasksPerWorkflow); t++) ids.push(`i${iteration}_t${t}`);
      for (const taskId of ids) {
        yield event('DISPATCH', 'run', [
          { kind: 'attempt.created', attemptId: `${taskId}-a1`, taskId, operatorKey: 'hpc.cluster_a' },
          { kind: 'task.status', taskId, status: 'PENDING' },
        ], 'execute');
      }
      for (const taskId of ids) {
        yield event('ATTEMPT.SUBMITTED', `${taskId}-a1`, [
          { kind: 'attempt.status', attemptId: `${taskId}-a1`, status: 'SUBMITTED', externalId: `job${n}`, dir: `attempts/${taskId}/${taskId}-a1` },
          { kind: 'task.status', taskId, status: 'WAITING_EXTERNAL' },
        ], 'submitted');
      }
      for (const taskId of ids) {
        yield event('OPERATOR.REPORTED', `${taskId}-a1`, [
          { kind: 'attempt.status', attemptId: `${taskId}-a1`, status: 'RUNNING' },
          { kind: 'task.status', taskId, status: 'RUNNING' },
        ], 'running');
      }
      for (const taskId of ids) {
        yield event('OPERATOR.REPORTED', `${taskId}-a1`, [
          { kind: 'attempt.status', attemptId: `${taskId}-a1`, status: 'COMPLETED' },
          { kind: 'attempt.results', attemptId: `${taskId}-a1`, files: { 'out/energy.json': `attempts/${taskId}/${taskId}-a1/out/energy.json` }, data: { energy: -1.25 } },
          { kind: 'task.status', taskId, status: 'COMPLETED' },
        ], 'completed');
      }
    }
  }
  while (n < eventsPerRun - 2) {
    const phase = n % 2 === 0 ? 'waiting' : 'poll';
    yield event('WAKE', 'run', [{ kind: 'run.phase', phase }], phase);
  }
  yield event('CMD.PAUSE', 'run', [{ kind: 'command', verb: 'pause', accepted: false, code: 'COMMAND_REJECTED', reason: 'run is finishing', by: 'bench' }], 'analyze');
  yield event('ANALYZED', 'run', [{ kind: 'run.status', status: 'COMPLETED' }, { kind: 'run.phase', phase: 'completed' }], 'completed');
}

/** Appends every run's history to the log, round-robin in slices so runs interleave like live ones. */
async function fillLog(log: SqliteEventLog, options: Required<Omit<ProjectionsBenchOptions, 'keep'>>): Promise<number> {
  const runs = Array.from({ length: options.runs }, (_, i) => {
    const runId = `20250101_000000_${i.toString(16).padStart(8, '0')}`;
    return { runId, history: runHistory(runId, options.eventsPerRun, options.tasksPerWorkflow), seq: 0, done: false };
  });
  let total = 0;
  for (let live = runs.length; live > 0; ) {
    for (const run of runs) {
      if (run.done) continue;
      const slice: ValidNewEvent[] = [];
      for (let i = 0; i < 200; i++) {
        const next = run.history.next();
        if (next.done) {
          run.done = true;
          live -= 1;
          break;
        }
        slice.push(next.value);
      }
      if (slice.length === 0) continue;
      await log.append(run.runId, slice, run.seq);
      run.seq += slice.length;
      total += slice.length;
    }
  }
  return total;
}

/** Wraps a log so the time spent inside its read iterators (`readAll`, `readAllChanges`) can be told apart from the fold's. */
function timedReads(log: EventLog): { log: EventLog; seconds: () => number } {
  let ms = 0;
  const timed = Object.create(log) as EventLog & { readAllChanges?: unknown };
  async function* time<T>(iterable: AsyncIterable<T>): AsyncIterable<T> {
    const iterator = iterable[Symbol.asyncIterator]();
    for (;;) {
      const start = performance.now();
      const next = await iterator.next();
      ms += performance.now() - start;
      if (next.done === true) return;
      yield next.value;
    }
  }
  timed.readAll = (afterPosition?: number): AsyncIterable<StoredEvent> => time(log.readAll(afterPosition));
  if (log instanceof SqliteEventLog) {
    timed.readAllChanges = (afterPosition?: number): AsyncIterable<ChangeRecord[]> => time(log.readAllChanges(afterPosition));
  }
  return { log: timed, seconds: () => ms / 1000 };
}

/** The baseline: plain upserts of attempt-like rows with the same pragmas and transaction size. */
function rawUpsertsPerSecond(path: string, count: number): number {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  db.exec(`CREATE TABLE raw (run_id TEXT NOT NULL, attempt_id TEXT NOT NULL, status TEXT NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (run_id, attempt_id)) WITHOUT ROWID`);
  const upsert = db.prepare(`INSERT INTO raw VALUES (?, ?, ?, ?)
    ON CONFLICT (run_id, attempt_id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at`);
  const chunk = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) upsert.run(`run${i % 100}`, `t${(i / 400) | 0}-a1`, 'RUNNING', '2025-01-01T00:00:00.000Z');
  });
  const start = performance.now();
  for (let i = 0; i < count; i += 20_000) chunk(i, Math.min(i + 20_000, count));
  const seconds = (performance.now() - start) / 1000;
  db.close();
  return count / seconds;
}

/** Generates the workload into a SqliteEventLog, times a full projection rebuild, prints and returns the figures. */
export async function runProjectionsBench(options: ProjectionsBenchOptions = {}): Promise<ProjectionsBenchResult> {
  const sizes = { runs: options.runs ?? 100, eventsPerRun: options.eventsPerRun ?? 10_000, tasksPerWorkflow: options.tasksPerWorkflow ?? 249 };
  const dir = mkdtempSync(join(tmpdir(), 'ms-projections-bench-'));
  try {
    const log = SqliteEventLog.open(join(dir, 'log.sqlite'), { synchronous: 'NORMAL' });
    let start = performance.now();
    const events = await fillLog(log, sizes);
    const appendSeconds = (performance.now() - start) / 1000;

    // Reading alone, so the rebuild figure can be split into log cost and fold cost.
    start = performance.now();
    let cpu = process.cpuUsage();
    let read = 0;
    for await (const _ of log.readAll(0)) read++;
    const readSeconds = (performance.now() - start) / 1000;
    const readCpuSeconds = cpuSeconds(cpu);
    if (read !== events) throw new Error(`read ${read} events, appended ${events}`);

    const db = new Database(join(dir, 'projections.sqlite'));
    db.pragma('journal_mode = WAL');
    const projector = new Projector(db);
    start = performance.now();
    cpu = process.cpuUsage();
    const reads = timedReads(log);
    const result = await projector.rebuild(reads.log);
    const rebuildSeconds = (performance.now() - start) / 1000;
    const rebuildCpuSeconds = cpuSeconds(cpu);
    if (result.applied !== events) throw new Error(`rebuild applied ${result.applied} of ${events} events`);
    db.close();
    await log.close();

    const rawRate = rawUpsertsPerSecond(join(dir, 'raw.sqlite'), 1_000_000);
    const figures: ProjectionsBenchResult = {
      events,
      appendSeconds,
      readSeconds,
      rebuildSeconds,
      rebuildEventsPerSecond: events / rebuildSeconds,
      rebuildReadSeconds: reads.seconds(),
      projectorEventsPerSecond: events / (rebuildSeconds - reads.seconds()),
      rawUpsertsPerSecond: rawRate,
      ratio: events / rebuildSeconds / rawRate,
      readCpuSeconds,
      rebuildCpuSeconds,
    };
    const k = (x: number): string => `${Math.round(x / 1000)}k`;
    console.log(`projections: ${events} events (${sizes.runs} runs) appended in ${appendSeconds.toFixed(1)} s`);
    console.log(`  log readAll only : ${readSeconds.toFixed(2)} s wall, ${readCpuSeconds.toFixed(2)} s CPU (${k(events / readSeconds)} events/s)`);
    console.log(
      `  rebuild          : ${rebuildSeconds.toFixed(2)} s wall, ${rebuildCpuSeconds.toFixed(2)} s CPU (${k(figures.rebuildEventsPerSecond)} events/s, read included)`,
    );
    console.log(
      `    of which log  : ${figures.rebuildReadSeconds.toFixed(2)} s reading; projector ${(rebuildSeconds - figures.rebuildReadSeconds).toFixed(2)} s (${k(figures.projectorEventsPerSecond)} events/s)`,
    );
    console.log(
      `  target           : rebuild <= 8 s for 1M events (wall ${rebuildSeconds <= 8 ? 'met' : 'not met'}, CPU ${rebuildCpuSeconds <= 8 ? 'met' : 'not met'} at ${events} events)`,
    );
    console.log(`  raw upserts      : ${k(rawRate)} rows/s`);
    console.log(`  ratio            : ${figures.ratio.toFixed(2)} (rebuild events/s ÷ raw upserts/s)`);
    return figures;
  } finally {
    if (options.keep) console.log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const runs = process.env.BENCH_RUNS === undefined ? undefined : Number(process.env.BENCH_RUNS);
  await runProjectionsBench({ ...(runs === undefined ? {} : { runs }), keep: process.env.BENCH_KEEP === '1' });
}
