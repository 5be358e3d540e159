import type Database from 'better-sqlite3';
import type { StoredEvent } from '../events/envelope.ts';
import { MatterStackError } from '../events/errors.ts';
import type { EventLog } from '../events/event-log.ts';
import { foldEvent, type FoldEvent } from './fold.ts';
import { ProjectionBatch } from './projection-batch.ts';
import { prepareProjectionStatements, type ProjectionStatements } from './projection-statements.ts';
import { RowCarry } from './row-carry.ts';
import { ALL_STREAM, createIndexes, createSchema, createTables, dropSchema } from './schema.ts';

/**
 * A log that can also hand out just what the fold reads, a page at a time (SqliteEventLog's
 * `readAllChanges`): `rebuild` and `catchUp` then fetch and parse less than `readAll` returns.
 */
interface ChangeFeed {
  readAllChanges(afterPosition?: number): AsyncIterable<readonly FoldEvent[]>;
}

function hasChangeFeed(log: EventLog): log is EventLog & ChangeFeed {
  return typeof (log as Partial<ChangeFeed>).readAllChanges === 'function';
}

/** The log's records after `afterPosition` in pages: the narrow feed when there is one, else `readAll` in pages. */
async function* foldPages(log: EventLog, afterPosition: number, pageSize: number): AsyncIterable<readonly FoldEvent[]> {
  if (hasChangeFeed(log)) {
    yield* log.readAllChanges(afterPosition);
    return;
  }
  let page: FoldEvent[] = [];
  for await (const event of log.readAll(afterPosition)) {
    page.push(event);
    if (page.length >= pageSize) {
      yield page;
      page = [];
    }
  }
  if (page.length > 0) yield page;
}

/** Options of `Projector.apply`. */
export interface ApplyOptions {
  /**
   * The batch comes from a global-order feed (`readAll`, or `follow` without `runId`), so its
   * highest position may become the position `catchUp` resumes from. Leave it off for per-run
   * feeds: their positions say nothing about other runs' events still unapplied.
   * @default false
   */
  globalOrder?: boolean;
}

/** What one `apply`, `catchUp` or `rebuild` did. */
export interface ApplyResult {
  /** Events folded into the tables. */
  applied: number;
  /** Events skipped because their run had already applied their sequence. */
  skipped: number;
}

/** Options of a `Projector`. */
export interface ProjectorOptions {
  /** Events per transaction in `catchUp`. @default 5000 */
  chunkSize?: number;
  /**
   * Events folded in memory between two writes of `rebuild` (fewer writes and fewer rewrites of a
   * row that changes in several chunks; the events are folded as they stream in, so this bounds touched rows, not
   * events held in memory). @default 250000
   */
  rebuildChunkSize?: number;
}

/**
 * Folds the event log into the read models of one better-sqlite3 database. Idempotent by
 * sequence: each run's last applied sequence is stored in the same transaction as its rows,
 * so re-applying, restarting or racing a catch-up never double-applies an event.
 *
 * @example
 * const projector = new Projector(new Database('projections.sqlite'));
 * await projector.catchUp(log);        // everything appended since the last call
 * projector.apply(eventsJustAppended); // live, per run
 */
export class Projector {
  private statements: ProjectionStatements;
  private readonly chunkSize: number;
  private readonly rebuildChunkSize: number;
  /** Set only during a rebuild, when this projector is the sole writer of tables it created empty. */
  private carry: RowCarry | undefined;
  private readonly applyTransaction: (events: readonly FoldEvent[], globalOrder: boolean) => ApplyResult;

  constructor(
    readonly db: Database.Database,
    options: ProjectorOptions = {},
  ) {
    this.chunkSize = options.chunkSize ?? 5000;
    this.rebuildChunkSize = options.rebuildChunkSize ?? 250_000;
    // One writer at a time checks and creates the schema: several processes may open one file together.
    db.transaction(() => createSchema(db)).immediate();
    this.statements = prepareProjectionStatements(db);
    // IMMEDIATE: several processes may project into one file; a deferred transaction that reads
    // then writes fails at once with SQLITE_BUSY when another wrote in between (no busy wait).
    const transaction = db.transaction((events: readonly FoldEvent[], globalOrder: boolean) => this.applyInTransaction(events, globalOrder));
    this.applyTransaction = (events, globalOrder) => transaction.immediate(events, globalOrder);
  }

  /**
   * Folds `events` in one transaction. Events of a run must come in sequence order; an event
   * at or below the run's stored sequence is skipped, a gap after it is refused
   * (`INVALID_EVENT`, nothing written) because folding past a missing event would be wrong.
   */
  apply(events: readonly StoredEvent[], options: ApplyOptions = {}): ApplyResult {
    if (events.length === 0) return { applied: 0, skipped: 0 };
    return this.applyTransaction(events, options.globalOrder ?? false);
  }

  /** The global position `catchUp` resumes after (0 before the first catch-up). */
  position(): number {
    const row = this.statements.selectPosition.get(ALL_STREAM) as { position: number | null } | undefined;
    return row?.position ?? 0;
  }

  /** The last sequence applied to `runId` (0 when none). */
  lastSeq(runId: string): number {
    const row = this.statements.selectPosition.get(runId) as { lastSeq: number } | undefined;
    return row?.lastSeq ?? 0;
  }

  /** Applies everything the log holds after the stored position, `chunkSize` events per transaction. */
  async catchUp(log: EventLog): Promise<ApplyResult> {
    return this.feed(log, this.position(), this.chunkSize);
  }

  /**
   * Drops the projection tables, recreates them and refolds the whole log from position 0, all in
   * one transaction: a record it cannot fold (corrupt, a gap) fails the rebuild and leaves the
   * projections as they were, never half-dropped. Other writers of the projections wait meanwhile
   * (readers see the old tables until the commit).
   */
  async rebuild(log: EventLog): Promise<ApplyResult> {
    const synchronous = this.db.pragma('synchronous', { simple: true }) as number;
    const cacheSize = this.db.pragma('cache_size', { simple: true }) as number;
    // A rebuild can always be redone from the log, so durability of each chunk buys nothing.
    this.db.pragma('synchronous = OFF');
    this.db.pragma('cache_size = -65536');
    this.db.exec('BEGIN IMMEDIATE');
    try {
      dropSchema(this.db);
      createTables(this.db);
      this.statements = prepareProjectionStatements(this.db);
      this.carry = new RowCarry();
      const result = await this.feedRebuild(log, this.rebuildChunkSize);
      // Indexing once after the load is cheaper than maintaining the indexes row by row.
      createIndexes(this.db);
      this.db.exec('COMMIT');
      return result;
    } catch (error) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      this.statements = prepareProjectionStatements(this.db);
      throw error;
    } finally {
      this.carry = undefined;
      this.db.pragma(`synchronous = ${synchronous}`);
      this.db.pragma(`cache_size = ${cacheSize}`);
    }
  }

  private async feed(log: EventLog, afterPosition: number, chunkSize: number): Promise<ApplyResult> {
    const total: ApplyResult = { applied: 0, skipped: 0 };
    let chunk: FoldEvent[] = [];
    const flush = (): void => {
      const result = this.applyTransaction(chunk, true);
      total.applied += result.applied;
      total.skipped += result.skipped;
      chunk = [];
    };
    for await (const page of foldPages(log, afterPosition, 1000)) {
      for (let i = 0; i < page.length; i++) {
        chunk.push(page[i]!);
        if (chunk.length >= chunkSize) flush();
      }
    }
    if (chunk.length > 0) flush();
    return total;
  }

  /**
   * The rebuild's feed: this projector is the sole writer of tables it just created, so events
   * are folded into the in-memory batch as they stream in (no array of events kept alive) and the
   * batch's rows are written every `chunkSize` events, inside the rebuild's transaction. A gap
   * refuses the rebuild (nothing of it kept).
   */
  private async feedRebuild(log: EventLog, chunkSize: number): Promise<ApplyResult> {
    const total: ApplyResult = { applied: 0, skipped: 0 };
    let batch = new ProjectionBatch(this.statements, this.carry);
    let pending = 0;
    let maxPosition = -1;
    const commit = this.db.transaction((done: ProjectionBatch, position: number) => {
      done.flush();
      if (position > this.position()) this.statements.upsertPosition.run(ALL_STREAM, 0, position);
    });
    for await (const page of foldPages(log, 0, 1000)) {
      for (let i = 0; i < page.length; i++) {
        const event = page[i]!;
        if (event.position !== null && event.position > maxPosition) maxPosition = event.position;
        if (this.foldOne(batch, event)) total.applied++;
        else total.skipped++;
        if (++pending >= chunkSize) {
          commit(batch, maxPosition);
          batch = new ProjectionBatch(this.statements, this.carry);
          pending = 0;
        }
      }
    }
    if (pending > 0) commit(batch, maxPosition);
    return total;
  }

  /** Folds one event into the batch: false when its run already applied it, INVALID_EVENT on a gap. */
  private foldOne(batch: ProjectionBatch, event: FoldEvent): boolean {
    const last = batch.lastSeq(event.runId);
    if (event.seq <= last) return false;
    if (event.seq !== last + 1) {
      throw new MatterStackError(
        'INVALID_EVENT',
        `run ${event.runId}: projection expected sequence ${last + 1} but got ${event.seq}`,
        { runId: event.runId, expectedSeq: last + 1, seq: event.seq },
      );
    }
    foldEvent(batch, event);
    batch.advance(event.runId, event.seq, event.position);
    return true;
  }

  private applyInTransaction(events: readonly FoldEvent[], globalOrder: boolean): ApplyResult {
    const batch = new ProjectionBatch(this.statements, this.carry);
    let applied = 0;
    let skipped = 0;
    let maxPosition = -1;
    for (const event of events) {
      if (event.position !== null && event.position > maxPosition) maxPosition = event.position;
      if (this.foldOne(batch, event)) applied++;
      else skipped++;
    }
    batch.flush();
    if (globalOrder && maxPosition > this.position()) {
      this.statements.upsertPosition.run(ALL_STREAM, 0, maxPosition);
    }
    return { applied, skipped };
  }
}
