import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ValidNewEvent, StoredEvent } from '../events/envelope.ts';
import { isMatterStackError, VersionConflictError } from '../events/errors.ts';
import type { EventLog } from '../events/event-log.ts';

/** What a backend provides to run the shared contract. */
export interface EventLogFixture {
  /** A fresh, empty log. */
  open(): Promise<EventLog>;
  /** An independent instance (own connection / handle) on the same storage as `log`. */
  openSibling(log: EventLog): Promise<EventLog>;
  /** Stores garbage as the run's next record directly in the backend, bypassing validation. */
  corrupt(log: EventLog, runId: string): Promise<void>;
}

const PROPERTY_RUNS = Number(process.env.PROPERTY_RUNS ?? 15);
let counter = 0;
const prefix = randomBytes(4).toString('hex');

/** A unique, valid event. */
export function makeEvent(overrides: Partial<ValidNewEvent> = {}): ValidNewEvent {
  counter += 1;
  return {
    eventId: `e-${prefix}-${counter}`,
    type: 'OPERATOR.REPORTED',
    actor: 'task_1-a1',
    time: '2025-01-01T00:00:00.000Z',
    payload: { status: 'RUNNING', n: counter },
    from: { execute: 'dispatching' },
    to: { execute: 'waiting' },
    changes: [{ kind: 'attempt.status', attemptId: 'task_1-a1', status: 'RUNNING' }],
    ...overrides,
  };
}

function events(n: number): ValidNewEvent[] {
  return Array.from({ length: n }, () => makeEvent());
}

function runId(): string {
  counter += 1;
  return `run_${prefix}_${counter}`;
}

async function collect(iterable: AsyncIterable<StoredEvent>): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for await (const event of iterable) out.push(event);
  return out;
}

/** Appends `batch`, re-reading lastSeq and retrying on VERSION_CONFLICT. */
async function appendWithRetry(log: EventLog, run: string, batch: ValidNewEvent[]): Promise<void> {
  for (;;) {
    const expected = await log.lastSeq(run);
    try {
      await log.append(run, batch, expected);
      return;
    } catch (error) {
      if (!isMatterStackError(error, 'VERSION_CONFLICT')) throw error;
    }
  }
}

/** The EventLog contract, run against each backend. */
export function eventLogContract(name: string, fixture: EventLogFixture): void {
  describe(`${name}: EventLog contract`, () => {
    const withLog = async (body: (log: EventLog) => Promise<void>): Promise<void> => {
      const log = await fixture.open();
      try {
        await body(log);
      } finally {
        await log.close();
      }
    };

    it('appends and reads back in order, with sequences 1..n', () =>
      withLog(async (log) => {
        const run = runId();
        const a = events(2);
        const b = events(3);
        const first = await log.append(run, a, 0);
        const second = await log.append(run, b, 2);
        expect(first).toMatchObject({ runId: run, firstSeq: 1, lastSeq: 2, duplicate: false });
        expect(second).toMatchObject({ runId: run, firstSeq: 3, lastSeq: 5, duplicate: false });
        const read = await collect(log.readRun(run));
        // The positions an append reports are the positions the events are read back at.
        expect([...(first.positions ?? []), ...(second.positions ?? [])]).toEqual(read.map((e) => e.position));
        expect(read.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
        expect(read.map((e) => e.eventId)).toEqual([...a, ...b].map((e) => e.eventId));
        expect(read[0]).toMatchObject({ runId: run, type: 'OPERATOR.REPORTED', actor: 'task_1-a1', schemaVersion: 1, payload: a[0]?.payload });
        const positions = read.map((e) => e.position ?? -1);
        expect([...positions].sort((x, y) => x - y)).toEqual(positions);
        expect(await log.lastSeq(run)).toBe(5);
      }));

    it('refuses a stale expectation with VERSION_CONFLICT and writes nothing', () =>
      withLog(async (log) => {
        const run = runId();
        await log.append(run, events(2), 0);
        for (const stale of [0, 1, 3, 7]) {
          const error = await log.append(run, events(2), stale).catch((e: unknown) => e);
          expect(error).toBeInstanceOf(VersionConflictError);
          expect(isMatterStackError(error, 'VERSION_CONFLICT')).toBe(true);
        }
        expect(await log.lastSeq(run)).toBe(2);
        expect(await collect(log.readRun(run))).toHaveLength(2);
      }));

    it('lets exactly one of N racing writers win each round', async () => {
      const log = await fixture.open();
      const writers = [log, ...(await Promise.all([1, 2, 3].map(() => fixture.openSibling(log))))];
      try {
        const run = runId();
        for (let round = 0; round < 8; round++) {
          const expected = await log.lastSeq(run);
          const results = await Promise.allSettled(writers.map((w) => w.append(run, events(2), expected)));
          const won = results.filter((r) => r.status === 'fulfilled');
          expect(won).toHaveLength(1);
          for (const r of results) if (r.status === 'rejected') expect(isMatterStackError(r.reason, 'VERSION_CONFLICT')).toBe(true);
          expect(await log.lastSeq(run)).toBe(expected + 2);
        }
        expect((await collect(log.readRun(run))).map((e) => e.seq)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
      } finally {
        for (const w of writers.slice(1)) await w.close();
        await log.close();
      }
    });

    it('treats the retry of an appended batch as a duplicate', () =>
      withLog(async (log) => {
        const run = runId();
        const batch = events(3);
        await log.append(run, batch, 0);
        expect(await log.append(run, batch, 0)).toEqual({ runId: run, firstSeq: 1, lastSeq: 3, duplicate: true });
        await log.append(run, events(1), 3);
        expect(await log.append(run, batch, 0)).toMatchObject({ firstSeq: 1, lastSeq: 3, duplicate: true });
        expect((await collect(log.readRun(run))).map((e) => e.seq)).toEqual([1, 2, 3, 4]);
        // Same first id but a different batch is not a retry.
        const error = await log.append(run, [batch[0] as ValidNewEvent, makeEvent()], 0).catch((e: unknown) => e);
        expect(isMatterStackError(error, 'VERSION_CONFLICT')).toBe(true);
      }));

    it('reads a run from the middle', () =>
      withLog(async (log) => {
        const run = runId();
        await log.append(run, events(4), 0);
        await log.append(run, events(6), 4);
        expect((await collect(log.readRun(run, 5))).map((e) => e.seq)).toEqual([6, 7, 8, 9, 10]);
        expect(await collect(log.readRun(run, 10))).toEqual([]);
        expect(await collect(log.readRun(runId()))).toEqual([]);
      }));

    it('reads a run after any sequence, by this log and by a fresh one, with other runs interleaved', async () => {
      const log = await fixture.open();
      const fresh = await fixture.openSibling(log);
      try {
        const run = runId();
        const other = runId();
        const sizes = [3, 1, 5, 2, 4, 1, 6];
        let total = 0;
        for (const size of sizes) {
          await log.append(run, events(size), total);
          await log.append(other, events(1), await log.lastSeq(other));
          total += size;
        }
        const expected = (after: number): number[] => Array.from({ length: total - after }, (_, i) => after + i + 1);
        for (const reader of [log, fresh]) {
          for (let after = 0; after <= total; after++) {
            expect((await collect(reader.readRun(run, after))).map((e) => e.seq), `after ${after}`).toEqual(expected(after));
          }
        }
      } finally {
        await fresh.close();
        await log.close();
      }
    });

    it('reads all runs in append order, from a position', () =>
      withLog(async (log) => {
        const [a, b, c] = [runId(), runId(), runId()];
        const batches: Array<[string, ValidNewEvent[], number]> = [
          [a, events(2), 0],
          [b, events(1), 0],
          [a, events(3), 2],
          [c, events(2), 0],
        ];
        const reported: (number | undefined)[] = [];
        for (const [run, batch, expected] of batches) reported.push(...((await log.append(run, batch, expected)).positions ?? [undefined]));
        const all = await collect(log.readAll());
        expect(all.map((e) => e.eventId)).toEqual(batches.flatMap(([, batch]) => batch.map((e) => e.eventId)));
        expect(reported).toEqual(all.map((e) => e.position));
        const afterSecond = all[2]?.position ?? 0;
        const rest = await collect(log.readAll(afterSecond));
        expect(rest.map((e) => e.eventId)).toEqual(all.slice(3).map((e) => e.eventId));
      }));

    it('follows existing then live events, and stops on abort', () =>
      withLog(async (log) => {
        const run = runId();
        const other = runId();
        await log.append(run, events(3), 0);
        const controller = new AbortController();
        const seen: StoredEvent[] = [];
        const allController = new AbortController();
        const allSeen: StoredEvent[] = [];
        const following = (async () => {
          for await (const event of log.follow({ runId: run, signal: controller.signal })) {
            seen.push(event);
            if (seen.length === 3) {
              await log.append(other, events(1), 0);
              await log.append(run, events(2), 3);
            }
            if (seen.length === 5) controller.abort();
          }
        })();
        const followingAll = (async () => {
          for await (const event of log.follow({ signal: allController.signal })) {
            allSeen.push(event);
            if (allSeen.length === 6) allController.abort();
          }
        })();
        await following;
        await followingAll;
        expect(seen.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
        expect(allSeen.filter((e) => e.runId === run).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
        const tail = await collect(log.follow({ runId: run, afterSeq: 4, signal: AbortSignal.timeout(300) }));
        expect(tail.map((e) => e.seq)).toEqual([5]);
      }));

    it('appends and reads a large batch', () =>
      withLog(async (log) => {
        const run = runId();
        const batch = events(5000);
        expect(await log.append(run, batch, 0)).toMatchObject({ firstSeq: 1, lastSeq: 5000, duplicate: false });
        const read = await collect(log.readRun(run));
        expect(read).toHaveLength(5000);
        expect(read.every((e, i) => e.seq === i + 1 && e.eventId === batch[i]?.eventId)).toBe(true);
      }));

    it('lists runs with their last sequence', () =>
      withLog(async (log) => {
        const [a, b] = [runId(), runId()].sort();
        expect(await log.listRuns()).toEqual([]);
        expect(await log.lastSeq(a as string)).toBe(0);
        await log.append(a as string, events(3), 0);
        await log.append(b as string, events(1), 0);
        expect(await log.listRuns()).toEqual([
          { runId: a, lastSeq: 3 },
          { runId: b, lastSeq: 1 },
        ]);
        await log.flush();
      }));

    it('refuses an append whose run id, sequence or event ids the log cannot file, naming the field, writing nothing', () =>
      withLog(async (log) => {
        const run = runId();
        const refused = async (call: () => Promise<unknown>, field: string): Promise<void> => {
          const error = await call().catch((e: unknown) => e);
          expect(isMatterStackError(error, 'INVALID_EVENT'), String(error)).toBe(true);
          expect((error as Error).message).toContain(field);
        };
        await refused(() => log.append('not an id!', events(1), 0), 'runId');
        await refused(() => log.append('a.b', events(1), 0), 'runId');
        await refused(() => log.append(run, events(1), -1), 'expectedSeq');
        await refused(() => log.append(run, events(1), 1.5), 'expectedSeq');
        const twice = makeEvent();
        await refused(() => log.append(run, [twice, makeEvent(), twice], 0), 'events[2].eventId');
        expect(await log.lastSeq(run)).toBe(0);
        expect(await log.listRuns()).toEqual([]);
      }));

    it('reads back what it was given, validated: a record the schemas refuse is named by run, sequence and field', () =>
      withLog(async (log) => {
        // The writer (the host) is trusted on append; the read is the boundary that catches a bad record.
        const run = runId();
        const bad = { ...makeEvent(), changes: [{ kind: 'task.status', taskId: 't1', status: 'DONE' }] } as unknown as ValidNewEvent;
        await log.append(run, [makeEvent(), bad], 0);
        for (const read of [() => collect(log.readRun(run)), () => collect(log.readAll())]) {
          const error = await read().catch((e: unknown) => e);
          expect(isMatterStackError(error, 'INVALID_EVENT'), String(error)).toBe(true);
          expect((error as Error).message).toMatch(new RegExp(`run ${run} seq 2: changes\\[0\\]\\.status`));
        }
      }));

    it('fails to read a corrupt record, naming its run and sequence', () =>
      withLog(async (log) => {
        const run = runId();
        await log.append(run, events(2), 0);
        await fixture.corrupt(log, run);
        for (const read of [() => collect(log.readRun(run)), () => collect(log.readAll())]) {
          const error = await read().catch((e: unknown) => e);
          expect(isMatterStackError(error, 'INVALID_EVENT')).toBe(true);
          expect((error as Error).message).toContain(run);
          expect((error as Error).message).toMatch(/seq 3/);
        }
      }));

    it('keeps every run gap-free under random interleavings of retrying writers (property)', async () => {
      const log = await fixture.open();
      const siblings = await Promise.all([1, 2].map(() => fixture.openSibling(log)));
      const writers = [log, ...siblings];
      try {
        await fc.assert(
          fc.asyncProperty(
            fc.array(
              fc.array(fc.record({ run: fc.nat(2), size: fc.integer({ min: 1, max: 3 }), yields: fc.nat(3) }), { maxLength: 6 }),
              { minLength: 2, maxLength: 3 },
            ),
            async (plans) => {
              const runs = [runId(), runId(), runId()];
              const written = new Map<string, string[]>(runs.map((r) => [r, []]));
              await Promise.all(
                plans.map(async (ops, w) => {
                  const writer = writers[w % writers.length] as EventLog;
                  for (const op of ops) {
                    const run = runs[op.run] as string;
                    const batch = events(op.size);
                    for (;;) {
                      const expected = await writer.lastSeq(run);
                      for (let i = 0; i < op.yields; i++) await new Promise((r) => setImmediate(r));
                      try {
                        await writer.append(run, batch, expected);
                        break;
                      } catch (error) {
                        if (!isMatterStackError(error, 'VERSION_CONFLICT')) throw error;
                      }
                    }
                    written.get(run)?.push(...batch.map((e) => e.eventId));
                  }
                }),
              );
              for (const run of runs) {
                const read = await collect(log.readRun(run));
                expect(read.map((e) => e.seq)).toEqual(read.map((_, i) => i + 1));
                expect(new Set(read.map((e) => e.eventId)).size).toBe(read.length);
                expect([...read.map((e) => e.eventId)].sort()).toEqual([...(written.get(run) ?? [])].sort());
              }
            },
          ),
          { numRuns: PROPERTY_RUNS },
        );
      } finally {
        for (const s of siblings) await s.close();
        await log.close();
      }
    });
  });
}

export { appendWithRetry };
