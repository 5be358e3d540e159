import { slotId } from '../host/shared-slots.ts';
import { slotUsage, type SlotDoc } from '../host/slot-semaphore.ts';
import { readEmbeddedSlotDoc } from '../host/sqlite-slot-store.ts';

/** An attempt in line for a slot of an operator whose slots runs share: how many are held, how many by other runs. */
export interface SharedSlotWait {
  held: number;
  byOthers: number;
}

/**
 * Finds attempts of `runId` in line for a shared slot of their operator (null when not in line).
 * Reads the root's slots file (the embedded log's) once per operator key, however many tasks ask;
 * on NATS the slots live in a KV bucket this view does not read.
 */
export function sharedSlotWaits(root: string, runId: string): (operatorKey: string, attemptId: string) => SharedSlotWait | null {
  const docs = new Map<string, SlotDoc>();
  return (operatorKey, attemptId) => {
    let doc = docs.get(operatorKey);
    if (doc === undefined) {
      doc = readEmbeddedSlotDoc(root, operatorKey);
      docs.set(operatorKey, doc);
    }
    return doc.waiters[slotId(runId, attemptId)] === undefined ? null : slotUsage(doc, runId);
  };
}

/** One sentence for a task waiting in line for a shared slot. */
export function sharedSlotText(operatorKey: string, wait: SharedSlotWait, cap?: number): string {
  const of = cap !== undefined ? ` of its ${cap}` : '';
  return `waiting for a slot of operator ${operatorKey} shared with other runs: ${wait.held}${of} taken, ${wait.byOthers} by other runs`;
}
