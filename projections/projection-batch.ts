import type { FoldTarget } from './fold.ts';
import type { ProjectionStatements } from './projection-statements.ts';
import type { CarriedRun, RowCarry } from './row-carry.ts';
import { newRunRow, type AttemptRow, type CampaignStateRow, type CommandRow, type RunRow, type TaskRow } from './rows.ts';

/** What the batch knows about one run; `null` in the maps means "looked up, not there". */
interface RunEntry {
  runId: string;
  row: RunRow | undefined;
  lastSeq: number;
  position: number | null;
  tasks: Map<string, TaskRow | null>;
  attempts: Map<string, AttemptRow | null>;
  campaignStates: Map<number, CampaignStateRow>;
  carried: CarriedRun | undefined;
}

/**
 * The rows one transaction touches, cached in memory: each row is read at most once and
 * written once at `flush`, however many events of the batch change it (an attempt's
 * CREATED → SUBMITTED → RUNNING → COMPLETED usually costs one upsert, not four).
 * Lives for one transaction only, so it never serves rows another writer changed since.
 */
export class ProjectionBatch implements FoldTarget {
  private readonly entries = new Map<string, RunEntry>();
  private readonly commands: CommandRow[] = [];
  // Consecutive events mostly belong to one run (the log appends per-run batches): skip the map.
  private current: RunEntry | undefined;

  /** `carry`: rows kept from the previous transaction of a rebuild (see RowCarry). */
  constructor(
    private readonly statements: ProjectionStatements,
    private readonly carry?: RowCarry,
  ) {}

  /** The last sequence applied to the run (0 when none), as of this batch. */
  lastSeq(runId: string): number {
    return this.entry(runId).lastSeq;
  }

  /** Records that the run's events up to `seq` (at global `position`) are applied. */
  advance(runId: string, seq: number, position: number | null): void {
    const entry = this.entry(runId);
    entry.lastSeq = seq;
    if (position !== null) entry.position = position;
  }

  run(runId: string): RunRow {
    const entry = this.entry(runId);
    if (entry.row === undefined) entry.row = (this.statements.selectRun.get(runId) as RunRow | undefined) ?? newRunRow(runId);
    return entry.row;
  }

  task(runId: string, taskId: string): TaskRow | undefined {
    const entry = this.entry(runId);
    const tasks = entry.tasks;
    const cached = tasks.get(taskId);
    if (cached !== undefined) return cached ?? undefined;
    const carried = entry.carried;
    const row =
      carried?.tasks.get(taskId) ??
      (carried !== undefined && !carried.knownTasks.has(taskId)
        ? null
        : ((this.statements.selectTask.get(runId, taskId) as TaskRow | undefined) ?? null));
    tasks.set(taskId, row);
    return row ?? undefined;
  }

  putTask(row: TaskRow): void {
    this.entry(row.runId).tasks.set(row.taskId, row);
  }

  attempt(runId: string, attemptId: string): AttemptRow | undefined {
    const entry = this.entry(runId);
    const attempts = entry.attempts;
    const cached = attempts.get(attemptId);
    if (cached !== undefined) return cached ?? undefined;
    const carried = entry.carried;
    const row =
      carried?.attempts.get(attemptId) ??
      (carried !== undefined && !carried.knownAttempts.has(attemptId)
        ? null
        : ((this.statements.selectAttempt.get(runId, attemptId) as AttemptRow | undefined) ?? null));
    attempts.set(attemptId, row);
    return row ?? undefined;
  }

  putAttempt(row: AttemptRow): void {
    this.entry(row.runId).attempts.set(row.attemptId, row);
  }

  putCampaignState(row: CampaignStateRow): void {
    this.entry(row.runId).campaignStates.set(row.iteration, row);
  }

  putCommand(row: CommandRow): void {
    this.commands.push(row);
  }

  /** Writes every row the batch touched, and the per-run positions; call inside the transaction. */
  flush(): void {
    const s = this.statements;
    for (const entry of this.entries.values()) {
      const r = entry.row;
      if (r !== undefined) {
        s.upsertRun.run(r.runId, r.workspace, r.status, r.statusReason, r.phase, r.iteration, r.maxConcurrent, r.createdAt, r.updatedAt, r.lastSeq);
      }
      // In a rebuild the carry knows whether a row is stored: a plain INSERT or UPDATE then
      // costs one B-tree search instead of the upsert's insert attempt, conflict and update.
      const carried = entry.carried;
      for (const t of entry.tasks.values()) {
        if (t === null) continue;
        if (carried === undefined) {
          s.upsertTask.run(
            t.runId, t.taskId, t.iteration, t.workflowOrder, t.kind, t.spec, t.dependencies, t.operatorKey, t.status,
            t.statusReason, t.currentAttemptId, t.attemptCount, t.message, t.updatedAt,
          );
        } else if (carried.knownTasks.has(t.taskId)) {
          s.updateTask.run(
            t.iteration, t.workflowOrder, t.kind, t.spec, t.dependencies, t.operatorKey, t.status,
            t.statusReason, t.currentAttemptId, t.attemptCount, t.message, t.updatedAt, t.runId, t.taskId,
          );
        } else {
          s.insertTask.run(
            t.runId, t.taskId, t.iteration, t.workflowOrder, t.kind, t.spec, t.dependencies, t.operatorKey, t.status,
            t.statusReason, t.currentAttemptId, t.attemptCount, t.message, t.updatedAt,
          );
        }
      }
      for (const a of entry.attempts.values()) {
        if (a === null) continue;
        if (carried === undefined) {
          s.upsertAttempt.run(
            a.runId, a.attemptId, a.taskId, a.attemptNumber, a.operatorKey, a.status, a.reason, a.externalId, a.operatorData,
            a.dir, a.createdAt, a.createdSeq, a.submittedAt, a.endedAt, a.resultsFiles, a.resultsData, a.decision, a.updatedAt,
          );
        } else if (carried.knownAttempts.has(a.attemptId)) {
          s.updateAttempt.run(
            a.taskId, a.attemptNumber, a.operatorKey, a.status, a.reason, a.externalId, a.operatorData,
            a.dir, a.createdAt, a.createdSeq, a.submittedAt, a.endedAt, a.resultsFiles, a.resultsData, a.decision, a.updatedAt, a.runId, a.attemptId,
          );
        } else {
          s.insertAttempt.run(
            a.runId, a.attemptId, a.taskId, a.attemptNumber, a.operatorKey, a.status, a.reason, a.externalId, a.operatorData,
            a.dir, a.createdAt, a.createdSeq, a.submittedAt, a.endedAt, a.resultsFiles, a.resultsData, a.decision, a.updatedAt,
          );
        }
      }
      for (const c of entry.campaignStates.values()) s.upsertCampaignState.run(c.runId, c.iteration, c.state, c.time, c.seq);
      if (r !== undefined) s.upsertPosition.run(entry.runId, entry.lastSeq, entry.position);
    }
    if (this.carry !== undefined) {
      for (const entry of this.entries.values()) {
        this.carry.absorb(entry.runId, nonNull(entry.tasks.values()), nonNull(entry.attempts.values()));
      }
    }
    for (const c of this.commands) {
      s.upsertCommand.run(c.runId, c.seq, c.idx, c.verb, c.accepted, c.code, c.reason, c.target, c.by, c.principal, c.actor, c.time);
    }
  }

  private entry(runId: string): RunEntry {
    const current = this.current;
    if (current !== undefined && current.runId === runId) return current;
    let entry = this.entries.get(runId);
    if (entry === undefined) {
      const stored = this.statements.selectPosition.get(runId) as { lastSeq: number; position: number | null } | undefined;
      entry = {
        runId,
        row: undefined,
        lastSeq: stored?.lastSeq ?? 0,
        position: stored?.position ?? null,
        tasks: new Map(),
        attempts: new Map(),
        campaignStates: new Map(),
        carried: this.carry?.run(runId),
      };
      this.entries.set(runId, entry);
    }
    this.current = entry;
    return entry;
  }
}

function* nonNull<T>(values: Iterable<T | null>): Iterable<T> {
  for (const value of values) if (value !== null) yield value;
}
