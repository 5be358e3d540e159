import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { NewEvent } from '../events/envelope.ts';
import type { EventLog } from '../events/event-log.ts';
import { JetStreamEventLog } from '../events/jetstream-event-log.ts';
import { SqliteEventLog } from '../events/sqlite-event-log.ts';
import { startNatsServer } from '../tests/harness/nats-server.ts';

/** One line of the benchmark table. */
export interface BenchRow {
  name: string;
  events: number;
  seconds: number;
  perSecond: number;
}

/** A typical transition record (an operator report with one domain change). */
function event(i: number): NewEvent {
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

async function time(name: string, events: number, body: () => Promise<void> | void): Promise<BenchRow> {
  const start = performance.now();
  await body();
  const seconds = (performance.now() - start) / 1000;
  return { name, events, seconds, perSecond: events / seconds };
}

async function appendAll(log: EventLog, runId: string, total: number, batch: number): Promise<void> {
  let seq = 0;
  for (let i = 0; i < total; i += batch) {
    const events = Array.from({ length: Math.min(batch, total - i) }, (_, k) => event(i + k));
    seq = (await log.append(runId, events, seq)).lastSeq;
  }
}

/** Runs the event-log benchmark and prints the table; returns the rows. */
export async function main(options: { events?: number } = {}): Promise<BenchRow[]> {
  const total = options.events ?? Number(process.env.BENCH_EVENTS ?? 100_000);
  const rows: BenchRow[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'ms-bench-'));
  const server = await startNatsServer();
  try {
    // --- SQLite: raw limits with the same pragmas and row shape as SqliteEventLog.
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
    rows.push(await time('sqlite raw: 1 row / transaction', total, () => {
      for (let i = 0; i < total; i++) one.immediate('a');
    }));
    rawSeq = 0;
    rows.push(await time('sqlite raw: 100 rows / transaction', total, () => {
      for (let i = 0; i < total; i += 100) many.immediate('b', 100);
    }));
    raw.close();

    for (const batch of [1, 100]) {
      const log = SqliteEventLog.open(join(dir, `log-${batch}.sqlite`));
      rows.push(await time(`SqliteEventLog.append, batches of ${batch}`, total, () => appendAll(log, 'bench_run', total, batch)));
      await log.close();
    }

    // --- JetStream: raw publish limits with the same message sizes, on a fresh file stream.
    const auth = { servers: server.url, user: server.users.orchestrator.user, pass: server.users.orchestrator.pass };
    const nc = await connect(auth);
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'RAW', subjects: ['ms.bench.>'] });
    const js = jetstream(nc);
    const messageOf = (n: number): Uint8Array =>
      new TextEncoder().encode(JSON.stringify(Array.from({ length: n }, (_, k) => ({ runId: 'bench_run', seq: k + 1, schemaVersion: 1, ...event(k) }))));
    const small = messageOf(1);
    const large = messageOf(100);
    rows.push(await time('jetstream raw: sequential publish (1-event msg)', total, async () => {
      for (let i = 0; i < total; i++) await js.publish('ms.bench.seq', small, { msgID: `s-${i}` });
    }));
    rows.push(await time('jetstream raw: pipelined publish (1-event msg, 1000 in flight)', total, async () => {
      for (let i = 0; i < total; i += 1000) {
        await Promise.all(Array.from({ length: Math.min(1000, total - i) }, (_, k) => js.publish('ms.bench.pipe', small, { msgID: `p-${i + k}` })));
      }
    }));
    rows.push(await time('jetstream raw: sequential publish (100-event msg)', total, async () => {
      for (let i = 0; i < total; i += 100) await js.publish('ms.bench.big', large, { msgID: `b-${i}` });
    }));
    await jsm.streams.delete('RAW');
    await nc.close();

    for (const batch of [1, 100]) {
      const log = await JetStreamEventLog.connect({ ...auth, stream: `BENCH_${batch}` });
      rows.push(await time(`JetStreamEventLog.append, batches of ${batch}`, total, () => appendAll(log, `bench_run_${batch}`, total, batch)));
      await log.close();
      const admin = await connect(auth);
      await (await jetstreamManager(admin)).streams.delete(`BENCH_${batch}`);
      await admin.close();
    }
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
  console.log('name'.padEnd(66), 'events'.padStart(8), 'seconds'.padStart(8), 'events/s'.padStart(10));
  for (const r of rows) {
    console.log(r.name.padEnd(66), String(r.events).padStart(8), r.seconds.toFixed(2).padStart(8), Math.round(r.perSecond).toString().padStart(10));
  }
  const ratio = (a: string, b: string): string => `${(rate(a) / rate(b)).toFixed(2)}`;
  console.log('\nratios (target >= 0.5)');
  console.log('SqliteEventLog batch 1   / sqlite raw 1 row/tx       :', ratio('SqliteEventLog.append, batches of 1', 'sqlite raw: 1 row'));
  console.log('SqliteEventLog batch 100 / sqlite raw 100 rows/tx    :', ratio('SqliteEventLog.append, batches of 100', 'sqlite raw: 100 rows'));
  console.log('JetStreamEventLog batch 1   / raw sequential publish :', ratio('JetStreamEventLog.append, batches of 1', 'jetstream raw: sequential publish (1-event'));
  console.log('JetStreamEventLog batch 100 / raw 100-event publish  :', ratio('JetStreamEventLog.append, batches of 100', 'jetstream raw: sequential publish (100-event'));
  console.log('JetStreamEventLog batch 100 / raw pipelined publish  :', ratio('JetStreamEventLog.append, batches of 100', 'jetstream raw: pipelined'));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
