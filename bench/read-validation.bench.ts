// What validating the log on the way back costs per record: the guard compiled from the zod schemas
// (events/schema-guard.ts, what every read uses) against zod's own parse of the same records, on an
// operator report (two changes) and on a plan of 249 tasks. CPU time of this process, after a warm-up.
import { pathToFileURL } from 'node:url';
import { StoredEventSchema } from '../events/envelope.ts';
import { validateStoredEvent, type RawStoredRecord } from '../events/validate-events.ts';

/** Records as a backend hands them over: freshly parsed JSON. */
function reports(n: number): RawStoredRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const taskId = `i0_t${i % 249}`;
    return JSON.parse(JSON.stringify({
      runId: 'run_1', seq: i + 1, position: i + 1, schemaVersion: 1, eventId: `e-${i}`, type: 'OPERATOR.REPORTED', actor: `${taskId}-a1`,
      time: new Date(1e12 + i * 1000).toISOString(), payload: { status: 'RUNNING' }, from: 'submitted', to: 'running',
      changes: [{ kind: 'attempt.status', attemptId: `${taskId}-a1`, status: 'RUNNING' }, { kind: 'task.status', taskId, status: 'RUNNING' }],
    })) as RawStoredRecord;
  });
}

function plans(n: number): RawStoredRecord[] {
  const tasks = Array.from({ length: 249 }, (_, t) => ({
    id: `i0_t${t}`, kind: 'compute', command: ['python', 'relax.py', `--structure=${t}`], dependencies: t >= 10 ? [`i0_t${t - 10}`] : [], cores: 4,
    allowFailure: false, allowDependencyFailure: false,
  }));
  return Array.from({ length: n }, (_, i) => JSON.parse(JSON.stringify({
    runId: 'run_1', seq: i + 1, position: i + 1, schemaVersion: 1, eventId: `p-${i}`, type: 'CAMPAIGN.PLANNED', actor: 'run', time: '2025-01-01T00:00:00.000Z',
    payload: {}, from: null, to: 'execute', changes: [{ kind: 'workflow.planned', iteration: 0, tasks }, { kind: 'campaign.state', iteration: 0, state: { best: -1.5 } }],
  })) as RawStoredRecord);
}

/** CPU µs per record of `check` over fresh copies of `records` (two untimed passes first). */
function cpuPerRecord(records: readonly RawStoredRecord[], check: (record: RawStoredRecord) => unknown): number {
  for (let pass = 0; pass < 2; pass++) for (const record of structuredClone(records)) check(record);
  const copies = structuredClone(records);
  const start = process.cpuUsage();
  for (const record of copies) check(record);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / records.length;
}

/** Prints and returns the table: µs of CPU per record, compiled guard and zod. */
export function main(): Record<string, { guard: number; zod: number }> {
  const rows = { 'report (2 changes)': reports(100_000), 'plan (249 tasks)': plans(500) };
  const out: Record<string, { guard: number; zod: number }> = {};
  console.log('\nvalidating records read back (CPU µs per record)');
  console.log('record'.padEnd(22), 'compiled guard'.padStart(15), 'zod parse'.padStart(10), 'ratio'.padStart(7));
  for (const [name, records] of Object.entries(rows)) {
    const guard = cpuPerRecord(records, validateStoredEvent);
    const zod = cpuPerRecord(records, (record) => StoredEventSchema.parse(record));
    out[name] = { guard, zod };
    console.log(name.padEnd(22), guard.toFixed(2).padStart(15), zod.toFixed(2).padStart(10), `${(zod / guard).toFixed(1)}x`.padStart(7));
  }
  return out;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
