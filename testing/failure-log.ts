import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ValidNewEvent } from '../events/envelope.ts';
import type { EventLog } from '../events/event-log.ts';
import { RunStore } from '../host/run-store.ts';

/** Where a failing scenario's log was written, and the command that replays it. */
export interface FailureLog {
  /** The workspaces root holding the log (`<root>/.matterstack/events.sqlite`). */
  root: string;
  runId: string;
  replayCommand: string;
}

/**
 * Writes the run of a failing scenario into the embedded store of a workspaces root of its own
 * (a new folder under `parent`, by default the system's temporary folder): the records the host appended to the in-memory log, as
 * they are, so `matterstack replay --verify` re-decides exactly what the scenario decided.
 */
export async function writeFailureLog(log: EventLog, runId: string, parent: string = os.tmpdir()): Promise<FailureLog> {
  const root = mkdtempSync(path.join(parent, 'matterstack-check-'));
  const records: ValidNewEvent[] = [];
  for await (const { eventId, type, actor, time, payload, from, to, changes } of log.readRun(runId)) records.push({ eventId, type, actor, time, payload, from, to, changes });
  const store = await RunStore.open({ root });
  try {
    if (records.length > 0) await store.log.append(runId, records, 0);
    await store.project();
  } finally {
    await store.close();
  }
  return { root, runId, replayCommand: `matterstack replay ${runId} --verify --root ${root}` };
}
