import type { StoredEvent } from '../events/envelope.ts';
import type { StoredEventLike } from './run-host.ts';
import { sqliteFault } from '../storage/sqlite-fault.ts';
import type { RunStore } from './run-store.ts';

/**
 * Keeps the projections caught up without a projector pass (and its commit) per append: at most
 * one pass per PROJECT_INTERVAL_MS while appends keep coming, and `flush()` before the drive
 * returns, so the projections are never stale once stepRun/runUntilCompletion resolve. Readers in
 * between (`store.views()`) catch up themselves.
 *
 * A pass folds the records this host has just appended (it has them, with their sequences and
 * the positions the appends reported) instead of reading them back from the log (`readAll` +
 * parse + validation of every record).
 * The projector's per-run sequence idempotency keeps both paths exact: anything it already has is
 * skipped. When the records are the log's very next positions (nothing of another run or writer
 * in between) the global position advances too, so the closing `catchUp` reads nothing again.
 * Anything else (a foreign append in between, a gap) falls back to `catchUp` from the log. A new
 * workflow's specs are folded as the host holds them: they are validateWorkflow's output, which is
 * what the log stores (its validation fills only defaults those specs already have).
 *
 * A pass also starts at once (no timer) when the buffer holds PASS_AT_RECORDS records or a
 * catch-up is due: a drive whose operators answer in microtasks never lets the timer fire, and
 * the records pushed meanwhile were dropped and read back from the log by the closing flush —
 * 600k full records at 100k tasks, 8 s and most of the peak memory of fanout-100000.
 */
const PROJECT_INTERVAL_MS = 100;
const PASS_AT_RECORDS = 10_000;
export class ProjectionScheduler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  /** A pass chained on `running` that has not taken the buffer yet. */
  private passQueued = false;
  private error: unknown;
  private buffer: StoredEventLike[] = [];
  private needsCatchUp = false;

  constructor(
    private readonly store: RunStore,
    private readonly runId: string,
  ) {}

  /** Records the host just appended (contiguous sequences of this run). */
  push(records: readonly StoredEventLike[]): void {
    if (this.needsCatchUp) return;
    for (const record of records) {
      const last = this.buffer[this.buffer.length - 1];
      if (last !== undefined && record.seq !== last.seq + 1) {
        this.needsCatchUp = true;
        this.buffer = [];
        this.passNow();
        return;
      }
      this.buffer.push(record);
    }
    if (this.buffer.length >= PASS_AT_RECORDS) this.passNow();
  }

  /** Runs a pass within PROJECT_INTERVAL_MS (one timer at a time). */
  schedule(): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.queuePass();
    }, PROJECT_INTERVAL_MS);
  }

  /** Queues a pass behind the running one without waiting for the timer. */
  private passNow(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.queuePass();
  }

  private queuePass(): void {
    if (this.passQueued) return;
    this.passQueued = true;
    this.running = this.running.then(() => this.pass()).catch((error: unknown) => {
      this.error ??= sqliteFault(error, this.store.projectionsFile, 'projections', true);
    });
  }

  /** Folds the buffered records (or catches up from the log when they cannot be folded alone). */
  private async pass(): Promise<void> {
    this.passQueued = false;
    const records = this.buffer;
    const fallback = this.needsCatchUp;
    this.buffer = [];
    this.needsCatchUp = false;
    if (fallback) return this.store.project();
    if (records.length === 0) return;
    const { projector } = this.store;
    const first = records[0] as StoredEventLike;
    const last = records[records.length - 1] as StoredEventLike;
    const applied = projector.lastSeq(this.runId);
    if (applied >= last.seq) return;
    if (applied + 1 < first.seq) return this.store.project();
    const events = records.map((record) => ({
      runId: this.runId,
      seq: record.seq,
      position: record.position,
      actor: record.actor,
      time: record.time,
      changes: record.changes,
    }));
    projector.apply(events as unknown as StoredEvent[], { globalOrder: followsInGlobalOrder(records, projector.position()) });
  }

  /** Catches up now (cancelling a pending pass); raises the first error of a background pass. */
  async flush(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.running = this.running.then(() => this.pass());
    await this.running.catch((error: unknown) => {
      this.error ??= sqliteFault(error, this.store.projectionsFile, 'projections', true);
    });
    this.running = Promise.resolve();
    await this.store.project();
    const error = this.error;
    this.error = undefined;
    if (error !== undefined) throw error;
  }
}

/**
 * True when `records` are the log's very next records after `position`, nothing of another run or
 * writer among them: each position is the previous one or the next (records of one JetStream
 * message share their message's position), starting right after `position`.
 */
function followsInGlobalOrder(records: readonly StoredEventLike[], position: number): boolean {
  let previous = position;
  for (let index = 0; index < records.length; index++) {
    const current = (records[index] as StoredEventLike).position;
    const next = index === 0 ? current === position + 1 : current === previous || current === previous + 1;
    if (current === null || !next) return false;
    previous = current;
  }
  return true;
}
