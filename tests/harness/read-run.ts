import type { StoredEvent } from '../../events/envelope.ts';
import type { EventLog } from '../../events/event-log.ts';

/** Every record of `runId` in `log`, in order. */
export async function readRunRecords(log: EventLog, runId: string): Promise<StoredEvent[]> {
  const records: StoredEvent[] = [];
  for await (const record of log.readRun(runId)) records.push(record);
  return records;
}
