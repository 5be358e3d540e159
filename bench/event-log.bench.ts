import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { ValidNewEvent } from '../events/envelope.ts';
import type { EventLog } from '../events/event-log.ts';
import { JetStreamEventLog } from '../storage/jetstream-event-log.ts';
import { SqliteEventLog } from '../storage/sqlite-event-log.ts';
import { startNatsServer } from '../harness/nats-server.ts';

/** One line of the benchmark table. */
export interface BenchRow {
  name: string;
  events: number;
  seconds: number;
  perSecond: number;
  /** CPU time (user + system) of this process per event. */
  cpuMicrosPerEvent: number;
  /** How many runs the row is the median of. */
  runs?: number;
}

/** A typical transition record (an operator report with one domain change). */
function event(i: number): ValidNewEvent {
  return {
    eventId: `bench-${i}`,
    type: 'OPERATOR.REPORTED',
    actor: 'task_00042-a1',
    time: '2025-01-01T00:00:00.000Z',
    payload: { status: 'RUNNING', reason: 'started', externalId: String(100000 + i) },
    from: { execute: 'dispatching' },
    to: { execute: 'waiting' },
    changes: [{ kind: 'attempt.status', attemptId: 'task_00042-a1', status: 'RUNNING' }],
  };
}

/**
 * Times `body` (wall clock and this process's CPU time, user + system). The box may be shared:
 * CPU time per event shows the client's own cost even when the wall clock is noisy.
 */
async function time(name: string, events: number, body: () => Promise<void> | void): Promise<BenchRow> {
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  await body();
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { name, events, seconds, perSecond: events / seconds, cpuMicrosPerEvent: (cpu.user + cpu.system) / events };
}

/** The median row of repeated runs (by rate), its CPU time the median too. */
function median(rows: BenchRow[]): BenchRow {
  const mid = (xs: number[]): number => {
    const sorted = [...xs].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
  };
  const byRate = [...rows].sort((a, b) => a.perSecond - b.perSecond);
  const row = byRate[Math.floor(byRate.length / 2)] ?? rows[0]!;
  return { ...row, cpuMicrosPerEvent: mid(rows.map((r) => r.cpuMicrosPerEvent)), runs: rows.length };
}

/** The batches appended by `appendAll`, built before timing (the raw loops build nothing either). */
function batchesOf(total: number, batch: number, first = 0): ValidNewEvent[][] {
  const out: ValidNewEvent[][] = [];
  for (let i = 0; i < total; i += batch) out.push(Array.from({ length: Math.min(batch, total - i) }, (_, k) => event(first + i + k)));
  return out;
}

async function appendAll(log: EventLog, runId: string, batches: readonly ValidNewEvent[][]): Promise<void> {
  let seq = 0;
  for (const events of batches) seq = (await log.append(runId, events, seq)).lastSeq;
}

/** Which groups of rows to run: BENCH_ONLY=jetstream-100,sqlite-1 (default: all). */
function wanted(group: string): boolean {
  const only = process.env.BENCH_ONLY;
  return only === undefined || only === '' || only.split(',').some((g) => group.startsWith(g.trim()));
}

/**
 * Runs the event-log benchmark and prints the table; returns the rows.
 *
 * Each raw baseline does what the log does minus the log itself: the same message bytes (the log's
 * own envelope JSON for the same events, one message per batch), the same publish pattern (one
 * publish per batch, awaited, with the same headers: a message id and the expected last subject
 * sequence) and the same warm-up. Inputs are built before timing on both sides. The batch-100 rows
 * are repeated BENCH_REPEAT times (default 3) and the median printed; the slow batch-1 rows run once.
 */
export async function main(options: { events?: number; repeat?: number } = {}): Promise<BenchRow[]> {
  const total = options.events ?? Number(process.env.BENCH_EVENTS ?? 100_000);
  const repeat = options.repeat ?? Number(process.env.BENCH_REPEAT ?? 3);
  const warm = Math.min(10_000, Math.ceil(total / 10));
  const rows: BenchRow[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'ms-bench-'));
  const server = await startNatsServer();
  const repeated = async (batch: number, run: (round: number) => Promise<BenchRow>): Promise<void> => {
    const results: BenchRow[] = [];
    for (let round = 0; round < (batch === 1 ? 1 : repeat); round++) results.push(await run(round));
    rows.push(median(results));
  };
  try {
    // --- SQLite: raw limits with the same pragmas and row shape as SqliteEventLog.
    if (wanted('sqlite')) {
      const sample = event(0);
      const row = [JSON.stringify(sample.payload), JSON.stringify(sample.from), JSON.stringify(sample.to), JSON.stringify(sample.changes)] as const;
      const raw = new Database(join(dir, 'raw.sqlite'));
      raw.pragma('journal_mode = WAL');
      raw.pragma('synchronous = FULL');
      raw.exec(`CREATE TABLE events (position INTEGER PRIMARY KEY, run_id TEXT NOT NULL, seq INTEGER NOT NULL, event_id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL, actor TEXT NOT NULL, time TEXT NOT NULL, payload TEXT NOT NULL, from_state TEXT, to_state TEXT,
        changes TEXT NOT NULL, schema_version INTEGER NOT NULL, UNIQUE (run_id, seq))`);
      const insert = raw.prepare(`INSERT INTO events (run_id, seq, event_id, type, actor, time, payload, from_state, to_state, changes, schema_version)
        VALUES (?, ?, ?, 'OPERATOR.REPORTED', 'task_00042-a1', '2025-01-01T00:00:00.000Z', ?, ?, ?, ?, 1)`);
      let rawSeq = 0;
      const one = raw.transaction((run: string) => {
        rawSeq += 1;
        insert.run(run, rawSeq, `raw-${run}-${rawSeq}`, ...row);
      });
      const many = raw.transaction((run: string, n: number) => {
        for (let k = 0; k < n; k++) {
          rawSeq += 1;
          insert.run(run, rawSeq, `raw-${run}-${rawSeq}`, ...row);
        }
      });
      if (wanted('sqlite-1')) {
        rows.push(await time('sqlite raw: 1 row / transaction', total, () => {
          for (let i = 0; i < total; i++) one.immediate('a');
        }));
      }
      if (wanted('sqlite-100')) {
        await repeated(100, async (round) => {
          rawSeq = 0;
          return time('sqlite raw: 100 rows / transaction', total, () => {
            for (let i = 0; i < total; i += 100) many.immediate(`b${round}`, 100);
          });
        });
      }
      raw.close();

      for (const batch of [1, 100]) {
        if (!wanted(`sqlite-${batch}`)) continue;
        const log = SqliteEventLog.open(join(dir, `log-${batch}.sqlite`));
        await appendAll(log, 'warm_up', batchesOf(warm, batch, 10_000_000));
        await repeated(batch, async (round) => {
          const batches = batchesOf(total, batch, round * total);
          return time(`SqliteEventLog.append, batches of ${batch}`, total, () => appendAll(log, `bench_run_${round}`, batches));
        });
        await log.close();
      }
    }

    // --- JetStream: raw publish limits with the same messages, on a fresh file stream each time.
    const auth = { servers: server.url, user: server.users.orchestrator.user, pass: server.users.orchestrator.pass };
    const nc = await connect(auth);
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    /** The messages the log publishes for these batches of run `runId` (its envelope JSON), with their msg ids. */
    const messagesOf = (runId: string, batches: readonly ValidNewEvent[][]): { data: Uint8Array; msgID: string }[] => {
      const encoder = new TextEncoder();
      let seq = 0;
      return batches.map((events) => {
        const msgID = `${runId}:${seq + 1}:${events[0]!.eventId}`;
        const data = encoder.encode(JSON.stringify(events.map((e) => ({ runId, seq: ++seq, schemaVersion: 1, ...e }))));
        return { data, msgID };
      });
    };
    /** One awaited publish per message, each expecting the previous one (what an append does) unless `expect` is false. */
    const publishAll = async (subject: string, messages: readonly { data: Uint8Array; msgID: string }[], expect = true): Promise<void> => {
      let last = 0;
      for (const m of messages) {
        last = (await js.publish(subject, m.data, expect ? { msgID: m.msgID, expect: { lastSubjectSequence: last } } : { msgID: m.msgID })).seq;
      }
    };
    const withStream = async <T>(name: string, subjects: string[], body: () => Promise<T>): Promise<T> => {
      await jsm.streams.add({ name, subjects });
      try {
        return await body();
      } finally {
        await jsm.streams.delete(name);
      }
    };
    for (const batch of [1, 100]) {
      if (!wanted(`jetstream-${batch}`)) continue;
      const label = batch === 1 ? '1-event msg' : '100-event msg';
      await repeated(batch, async (round) => {
        const runId = `bench_run_${batch}_${round}`;
        const messages = messagesOf(runId, batchesOf(total, batch, round * total));
        return withStream(`RAW_${batch}_${round}`, ['ms.bench.>'], async () => {
          await publishAll('ms.bench.warm', messagesOf('warm_up', batchesOf(warm, batch, 10_000_000)));
          return time(`jetstream raw: sequential publish (${label})`, total, () => publishAll(`ms.bench.${runId}`, messages));
        });
      });
      if (batch === 100) {
        // For reference: the same publishes without the expectation header (no concurrency check).
        await repeated(batch, async (round) => {
          const runId = `bench_run_noexpect_${round}`;
          const messages = messagesOf(runId, batchesOf(total, batch, round * total));
          return withStream(`RAW_NOEXPECT_${round}`, ['ms.bench.>'], async () => {
            await publishAll('ms.bench.warm', messagesOf('warm_up', batchesOf(warm, batch, 10_000_000)), false);
            return time(`jetstream raw, no expectation header: sequential publish (${label})`, total, () => publishAll(`ms.bench.${runId}`, messages, false));
          });
        });
      }
      if (batch === 1) {
        const small = messagesOf('bench_run', batchesOf(1, 1))[0]!.data;
        await withStream('RAW_PIPE', ['ms.bench.>'], async () => {
          rows.push(await time('jetstream raw: pipelined publish (1-event msg, 1000 in flight)', total, async () => {
            for (let i = 0; i < total; i += 1000) {
              await Promise.all(Array.from({ length: Math.min(1000, total - i) }, (_, k) => js.publish('ms.bench.pipe', small, { msgID: `p-${i + k}` })));
            }
          }));
        });
      }
      await repeated(batch, async (round) => {
        const log = await JetStreamEventLog.connect({ ...auth, stream: `BENCH_${batch}_${round}` });
        try {
          await appendAll(log, 'warm_up', batchesOf(warm, batch, 10_000_000));
          const batches = batchesOf(total, batch, round * total);
          return await time(`JetStreamEventLog.append, batches of ${batch}`, total, () => appendAll(log, `bench_run_${batch}_${round}`, batches));
        } finally {
          await log.close();
          await jsm.streams.delete(`BENCH_${batch}_${round}`);
        }
      });
    }
    await nc.close();
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  print(rows);
  return rows;
}

function print(rows: BenchRow[]): void {
  const rate = (name: string): number => rows.find((r) => r.name.startsWith(name))?.perSecond ?? Number.NaN;
  console.log('\nevent log append throughput');
  console.log('name'.padEnd(66), 'events'.padStart(8), 'seconds'.padStart(8), 'events/s'.padStart(10), 'cpu µs/ev'.padStart(10), 'runs'.padStart(5));
  for (const r of rows) {
    console.log(
      r.name.padEnd(66),
      String(r.events).padStart(8),
      r.seconds.toFixed(2).padStart(8),
      Math.round(r.perSecond).toString().padStart(10),
      r.cpuMicrosPerEvent.toFixed(2).padStart(10),
      String(r.runs ?? 1).padStart(5),
    );
  }
  const ratio = (a: string, b: string): string => {
    const r = rate(a) / rate(b);
    return Number.isNaN(r) ? '-' : r.toFixed(2);
  };
  console.log('\nratios (target >= 0.5)');
  console.log('SqliteEventLog batch 1   / sqlite raw 1 row/tx       :', ratio('SqliteEventLog.append, batches of 1', 'sqlite raw: 1 row'));
  console.log('SqliteEventLog batch 100 / sqlite raw 100 rows/tx    :', ratio('SqliteEventLog.append, batches of 100', 'sqlite raw: 100 rows'));
  console.log('JetStreamEventLog batch 1   / raw sequential publish :', ratio('JetStreamEventLog.append, batches of 1', 'jetstream raw: sequential publish (1-event'));
  console.log('JetStreamEventLog batch 100 / raw 100-event publish  :', ratio('JetStreamEventLog.append, batches of 100', 'jetstream raw: sequential publish (100-event'));
  console.log('JetStreamEventLog batch 100 / raw 100-event publish without expectation header:', ratio('JetStreamEventLog.append, batches of 100', 'jetstream raw, no expectation header'));
  console.log('JetStreamEventLog batch 100 / raw pipelined publish  :', ratio('JetStreamEventLog.append, batches of 100', 'jetstream raw: pipelined'));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
