import type { StoredEvent, ValidNewEvent } from './envelope.ts';

/** The outcome of a successful append. */
export interface AppendResult {
  runId: string;
  /** Sequence of the first and last appended event (per run, 1-based). */
  firstSeq: number;
  lastSeq: number;
  /** True when the batch had already been appended (an idempotent retry): nothing new was written. */
  duplicate: boolean;
  /**
   * The global position of each appended event (what `readAll` reports as `position`), as the
   * append learnt it; absent when it did not (a duplicate), so a reader of positions asks the log.
   */
  positions?: number[];
}

/** One run known to the log. */
export interface LoggedRun {
  runId: string;
  lastSeq: number;
}

/** Options for following the log live. */
export interface FollowOptions {
  /** Only this run; all runs when omitted. */
  runId?: string;
  /** With `runId`: deliver events after this sequence (default: 0, the whole run). */
  afterSeq?: number;
  /** Without `runId`: deliver events after this global position (default: 0, everything). */
  afterPosition?: number;
  /** Stops the iteration. */
  signal?: AbortSignal;
}

/**
 * The run-partitioned, append-only event log: the only source of truth.
 * Implementations: `SqliteEventLog` (embedded default) and `JetStreamEventLog`.
 */
export interface EventLog {
  /**
   * Appends `events` to `runId` if the run's last sequence is `expectedSeq` (0 for a new run).
   * The records are the writer's own, in the log's normal form: they are not validated again
   * here (reads validate every record), only the run id, the sequence and the batch's event ids.
   * A stale expectation throws `VersionConflictError` and writes nothing. Retrying a batch that
   * was already appended (same event ids at the same sequences) returns `duplicate: true`.
   */
  append(runId: string, events: readonly ValidNewEvent[], expectedSeq: number): Promise<AppendResult>;
  /** The run's events with sequence > `afterSeq`, in order. */
  readRun(runId: string, afterSeq?: number): AsyncIterable<StoredEvent>;
  /** Every run's events with global position > `afterPosition`, in append order. */
  readAll(afterPosition?: number): AsyncIterable<StoredEvent>;
  /** Existing events then new ones as they are appended, until `signal` aborts or the log closes. */
  follow(options?: FollowOptions): AsyncIterable<StoredEvent>;
  /** The run's last sequence (0 when the run has no events). */
  lastSeq(runId: string): Promise<number>;
  /** Resolves once everything appended so far is durable. */
  flush(): Promise<void>;
  /** Every run with at least one event. */
  listRuns(): Promise<LoggedRun[]>;
  close(): Promise<void>;
}
