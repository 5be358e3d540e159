import type { RunStatusView } from '../projections/queries.ts';
import { slotId } from '../host/shared-slots.ts';
import { pruneExpired, slotUsage, type SlotDoc } from '../host/slot-semaphore.ts';
import { readEmbeddedSlotDoc } from '../host/sqlite-slot-store.ts';

/** An attempt in line for a slot of an operator whose slots runs share: how many are held, how many by other runs. */
export interface SharedSlotWait {
  held: number;
  byOthers: number;
}

/** Reads the slot document of an operator key as it is now (the embedded log's file, or the JetStream KV bucket). */
export type SlotDocReader = (operatorKey: string) => SlotDoc | Promise<SlotDoc>;

/** The reader of the embedded log's slots file under `root`. */
export function embeddedSlotDocs(root: string): SlotDocReader {
  return (operatorKey) => readEmbeddedSlotDoc(root, operatorKey);
}

/**
 * Finds attempts of `runId` in line for a shared slot of their operator (null when not in line).
 * Reads each operator key's document once, however many tasks ask.
 */
export function sharedSlotWaits(readDoc: SlotDocReader, runId: string): (operatorKey: string, attemptId: string) => Promise<SharedSlotWait | null> {
  const docs = new Map<string, Promise<SlotDoc>>();
  return async (operatorKey, attemptId) => {
    let doc = docs.get(operatorKey);
    if (doc === undefined) {
      doc = Promise.resolve(readDoc(operatorKey)).then((read) => {
        pruneExpired(read, Date.now());
        return read;
      });
      docs.set(operatorKey, doc);
    }
    const read = await doc;
    return read.waiters[slotId(runId, attemptId)] === undefined ? null : slotUsage(read, runId);
  };
}

/** One sentence for a task waiting in line for a shared slot. */
export function sharedSlotText(operatorKey: string, wait: SharedSlotWait, cap?: number): string {
  const of = cap !== undefined ? ` of its ${cap}` : '';
  return `waiting for a slot of operator ${operatorKey} shared with other runs: ${wait.held}${of} taken, ${wait.byOthers} by other runs`;
}

/** The status view with, as their reason, what the pending tasks in line for a shared slot wait for. */
export async function withSharedSlotWaits(view: RunStatusView, readDoc: SlotDocReader): Promise<RunStatusView> {
  const waitOf = sharedSlotWaits(readDoc, view.runId);
  const tasks = await Promise.all(
    view.tasks.map(async (task) => {
      if (task.status !== 'PENDING' || task.currentAttemptId === null || task.operatorKey === null) return task;
      const wait = await waitOf(task.operatorKey, task.currentAttemptId);
      return wait === null ? task : { ...task, statusReason: sharedSlotText(task.operatorKey, wait) };
    }),
  );
  return { ...view, tasks };
}
