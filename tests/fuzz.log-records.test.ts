import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Campaign } from '../campaign/campaign.ts';
import { initializeRun } from '../host/run-lifecycle.ts';
import { stepRun } from '../host/drive-run.ts';
import { RunStore } from '../host/run-store.ts';
import { verifyReplay } from '../views/replay-run.ts';
import { StoredEventSchema } from '../events/envelope.ts';
import { errorMessage, isMatterStackError } from '../events/errors.ts';
import { isValidId } from '../events/ids.ts';
import { SqliteEventLog } from '../storage/sqlite-event-log.ts';
import { rawChangeRowToRecord, rawRowToEvent, type RawChangeRow, type RawRow } from '../storage/sqlite-rows.ts';
import { Projector } from '../projections/projector.ts';
import { runCli } from './harness/cli.ts';
import { FUZZ_RUNS, nastyNumber, nastyString, nastyValue, slowRuns } from './harness/fuzz.ts';
import { InstantOperator } from '../harness/instant-operator.ts';
import { dumpProjections } from './harness/projection-dump.ts';
import { tempRoot, type TempRoot } from './harness/workspace.ts';

/*
 * Fuzz: log records read back. A record corrupted on disk (any column, any value SQLite takes)
 * is read as a valid record or refused with INVALID_EVENT naming its run and sequence — by the
 * reads, the projection rebuild, replay --verify and the CLI; a refused rebuild stops at the
 * damaged record and a catch-up from the repaired log gives the projections back.
 */

const COLUMNS = ['run_id', 'seq', 'event_id', 'type', 'actor', 'time', 'payload', 'from_state', 'to_state', 'changes', 'schema_version'] as const;

let temp: TempRoot;
/** The rows of a real run (created, planned, a task run to completion), as the log stores them. */
let rows: RawRow[];
let baseLog: string;

beforeAll(async () => {
  temp = tempRoot('ms-fuzz-log-');
  temp.workspace('lab', '');
  const store = await RunStore.open({ root: temp.root });
  let plans = 0;
  const campaign: Campaign = {
    plan: () => (plans++ === 0 ? { tasks: [{ id: 'gate', kind: 'gate' }, { id: 't', command: 'true', env: { A: 'b' } }] } : null),
    analyze: (_s, results) => ({ seen: Object.keys(results) }),
  };
  const run = await initializeRun({ store, workspace: 'lab', runId: 'r1', campaign });
  for (let i = 0; i < 3; i++) await stepRun(run, { campaign, registry: { factories: { local: () => new InstantOperator() } } });
  await run.close();
  await store.close();
  baseLog = path.join(temp.root, '.matterstack', 'events.sqlite');
  const db = new Database(baseLog, { readonly: true });
  rows = db.prepare('SELECT position, run_id, seq, event_id, type, actor, time, payload, from_state, to_state, changes, schema_version FROM events ORDER BY position').raw().all() as RawRow[];
  db.close();
  expect(rows.length).toBeGreaterThan(5);
});
afterAll(() => temp?.cleanup());

/** A value SQLite may hold in a column, shaped to hurt: text, numbers, blobs, null, JSON of the wrong shape, a damaged original. */
function columnValue(original: unknown): fc.Arbitrary<unknown> {
  const text = typeof original === 'string' ? original : String(original);
  return fc.oneof(
    nastyString,
    nastyNumber.filter((n) => !Number.isNaN(n)),
    fc.integer({ min: -3, max: 40 }),
    fc.constant(null),
    fc.uint8Array({ maxLength: 16 }).map((b) => Buffer.from(b)),
    nastyValue.map((v) => JSON.stringify(v) ?? 'null'),
    fc.nat(text.length).map((n) => text.slice(0, n)),
    fc.tuple(fc.nat(text.length), nastyString).map(([n, s]) => `${text.slice(0, n)}${s}${text.slice(n + 1)}`),
  );
}

/** A row with one column replaced (index into RawRow, 1..11). */
const damagedRow: fc.Arbitrary<{ row: RawRow; column: number; value: unknown }> = fc
  .tuple(fc.nat(), fc.integer({ min: 1, max: 11 }))
  .chain(([i, column]) => {
    const row = rows[i % rows.length]!;
    return columnValue(row[column]).map((value) => {
      const copy = [...row] as unknown[];
      copy[column] = value;
      return { row: copy as RawRow, column, value };
    });
  });

/**
 * One line of INVALID_EVENT naming the run and sequence the row carries (when they are well-formed;
 * damaged ones are quoted): `run X seq N` when the record itself is invalid, `run X: … got N` when
 * it is valid but out of place (a damaged run id or sequence).
 */
function expectNamedRefusal(error: unknown, row: readonly unknown[], context: string, original: readonly unknown[] = row): void {
  const message = errorMessage(error);
  expect(isMatterStackError(error, 'INVALID_EVENT'), `${context}: ${message}`).toBe(true);
  expect(message, context).not.toMatch(/[\n\r]/);
  expect(message.length, context).toBeLessThan(2000);
  // A record moved to another run or sequence by the damage may be named by the run it left (the gap).
  const names = (r: readonly unknown[]): boolean =>
    (typeof r[1] !== 'string' || !isValidId(r[1]) || message.includes(`run ${r[1]}`)) && (!Number.isSafeInteger(r[2]) || message.includes(String(r[2])));
  expect(names(row) || names(original), context).toBe(true);
}

describe('fuzz: log rows decoded in process', () => {
  it('a row with any column damaged decodes to a valid record or INVALID_EVENT naming run and sequence', () => {
    fc.assert(
      fc.property(damagedRow, ({ row, column, value }) => {
        const context = `column ${COLUMNS[column - 1]} = ${String(value).slice(0, 80)}`;
        let event;
        try {
          event = rawRowToEvent(row);
        } catch (error) {
          expectNamedRefusal(error, row, context);
          return;
        }
        expect(StoredEventSchema.safeParse(event).success, context).toBe(true);
        // The full decode parsed the payload: SQLite's json_valid(payload) would say 1.
        const changeRow = [row[0], row[1], row[2], row[5], row[6], row[10], row[11], 1] as RawChangeRow;
        try {
          rawChangeRowToRecord(changeRow);
        } catch (error) {
          expectNamedRefusal(error, row, context);
        }
      }),
      { numRuns: FUZZ_RUNS * 5 },
    );
  });
});

describe('fuzz: log records damaged on disk', () => {
  let n = 0;
  /** A copy of the run's log with one column of one record overwritten (undefined when SQLite refuses the value). */
  function damagedCopy(position: number, column: string, value: unknown): string | undefined {
    const dir = path.join(temp.root, 'copies', `c${n++}`);
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'events.sqlite');
    fs.copyFileSync(baseLog, file);
    const db = new Database(file);
    try {
      db.prepare(`UPDATE events SET ${column} = ? WHERE position = ?`).run(typeof value === 'boolean' ? Number(value) : (value as string), position);
      return file;
    } catch {
      return undefined; // NOT NULL, UNIQUE: SQLite itself keeps the value out.
    } finally {
      db.close();
    }
  }

  it('reads, the projection rebuild and replay --verify name the damaged record or succeed; a refused rebuild loses nothing a repaired log cannot restore', async () => {
    await fc.assert(
      fc.asyncProperty(damagedRow, async ({ row, column, value }) => {
        const file = damagedCopy(row[0], COLUMNS[column - 1]!, value);
        if (file === undefined) return;
        const stored = new Database(file, { readonly: true }).prepare('SELECT * FROM events WHERE position = ?').raw().get(row[0]) as unknown[];
        const named = [stored[0], stored[1], stored[2]];
        const original = rows.find((r) => r[0] === row[0])!;
        const context = `position ${row[0]} column ${COLUMNS[column - 1]} = ${String(value).slice(0, 80)}`;
        const log = SqliteEventLog.open(file);
        const projections = new Database(':memory:');
        try {
          const attempts: (() => Promise<unknown>)[] = [
            async () => {
              for await (const _ of log.readRun('r1'));
            },
            async () => {
              for await (const _ of log.readAll());
            },
            () => log.listRuns(),
            () => log.lastSeq('r1'),
          ];
          for (const attempt of attempts) await attempt().catch((error: unknown) => expectNamedRefusal(error, named, context, original));
          // Projections of the undamaged log first: a refused rebuild must leave them as they are.
          const projector = new Projector(projections);
          const intact = SqliteEventLog.open(baseLog);
          await projector.rebuild(intact).finally(() => intact.close());
          const before = dumpProjections(projections);
          const refused = await projector.rebuild(log).then(
            () => undefined,
            (error: unknown) => error,
          );
          if (refused !== undefined) {
            expectNamedRefusal(refused, named, context, original);
            // The rebuild commits in chunks (projections/projector.ts): it stops at the damaged record with the
            // projections of the records before it, and a catch-up from the repaired log finishes the job.
            const repaired = SqliteEventLog.open(baseLog);
            await projector.catchUp(repaired).finally(() => repaired.close());
            expect(dumpProjections(projections), context).toEqual(before);
          }
          const listed = await log.listRuns().catch((error: unknown) => {
            expectNamedRefusal(error, named, context, original);
            return [];
          });
          for (const { runId } of listed) {
            const verdict = await verifyReplay(log, runId).catch((error: unknown) => {
              expectNamedRefusal(error, named, context, original);
              return undefined;
            });
            // A divergence is a finding, not a refusal: its message quotes the stored type verbatim (escaping is #13 item 11's).
            if (verdict !== undefined && !verdict.ok) expect(verdict.message.length, context).toBeGreaterThan(0);
          }
        } finally {
          projections.close();
          await log.close();
          fs.rmSync(path.dirname(file), { recursive: true, force: true });
        }
      }),
      { numRuns: FUZZ_RUNS },
    );
  });

  it('the CLI answers a damaged log with one error line and a stable exit code, never a stack trace', async () => {
    await fc.assert(
      fc.asyncProperty(damagedRow, fc.constantFrom(['status', 'r1'], ['replay', 'r1', '--verify'], ['projections', 'rebuild'], ['list'], ['explain', 'r1']), async ({ row, column, value }, argv) => {
        const file = damagedCopy(row[0], COLUMNS[column - 1]!, value);
        if (file === undefined) return;
        const root = path.dirname(file);
        const state = path.join(root, '.matterstack');
        fs.mkdirSync(state);
        fs.renameSync(file, path.join(state, 'events.sqlite'));
        try {
          const result = await runCli(argv, { root });
          const context = `${argv.join(' ')} with position ${row[0]} column ${COLUMNS[column - 1]} = ${String(value).slice(0, 80)} → exit ${result.code}: ${result.stderr.slice(0, 300)}`;
          expect(result.code, context).not.toBeNull();
          expect(result.stderr, context).not.toMatch(/^\s+at /m);
          if (result.code === 0) return;
          expect(result.code, context).not.toBe(1);
          expect(result.stderr.split('\n').filter((l) => l.startsWith('error: ')), context).toHaveLength(1);
        } finally {
          fs.rmSync(root, { recursive: true, force: true });
        }
      }),
      { numRuns: slowRuns(100, 4) },
    );
  });
});
