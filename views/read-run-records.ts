import type { StoredEvent } from '../events/envelope.ts';
import { MatterStackError } from '../events/errors.ts';
import type { EventLog } from '../events/event-log.ts';

/** The run's records in order, up to `toSeq` (inclusive) when given; RUN_NOT_FOUND when the run has none. */
export async function readRunRecords(log: EventLog, runId: string, toSeq?: number): Promise<StoredEvent[]> {
  const records: StoredEvent[] = [];
  for await (const record of log.readRun(runId, 0)) {
    if (toSeq !== undefined && record.seq > toSeq) break;
    records.push(record);
  }
  if (records.length === 0 && (await log.lastSeq(runId)) === 0) {
    throw new MatterStackError('RUN_NOT_FOUND', `run ${runId} not found`, { runId });
  }
  return records;
}
