import { slotId } from '../host/shared-slots.ts';
import { slotUsage } from '../host/slot-semaphore.ts';
import { readEmbeddedSlotDoc } from '../host/sqlite-slot-store.ts';

/** An attempt in line for a slot of an operator whose slots runs share: how many are held, how many by other runs. */
export interface SharedSlotWait {
  held: number;
  byOthers: number;
}

/**
 * The attempt's place in line for a shared slot of its operator, or null when it is not in line.
 * Read from the root's slots file (the embedded log's); on NATS the slots live in a KV bucket this
 * view does not read.
 */
export function sharedSlotWait(root: string, runId: string, operatorKey: string, attemptId: string): SharedSlotWait | null {
  const doc = readEmbeddedSlotDoc(root, operatorKey);
  if (doc.waiters[slotId(runId, attemptId)] === undefined) return null;
  return slotUsage(doc, runId);
}

/** One sentence for a task waiting in line for a shared slot. */
export function sharedSlotText(operatorKey: string, wait: SharedSlotWait, cap?: number): string {
  const of = cap !== undefined ? ` of its ${cap}` : '';
  return `waiting for a slot of operator ${operatorKey} shared with other runs: ${wait.held}${of} taken, ${wait.byOthers} by other runs`;
}
