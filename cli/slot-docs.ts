import type { RunStore } from '../host/run-store.ts';
import { emptySlotDoc } from '../host/slot-semaphore.ts';
import { embeddedSlotDocs, type SlotDocReader } from '../views/shared-slot-wait.ts';

/**
 * Where `status` and `explain` read the shared operator slots of a store: the JetStream KV
 * bucket on NATS, the slots file under the root otherwise. A NATS user who may not read the
 * bucket (or a log with no bucket yet) sees no slot in use rather than an error.
 */
export async function slotDocsOf(store: RunStore): Promise<SlotDocReader> {
  const [{ JetStreamEventLog }, { KvSlotStore }, { storeKey }] = await Promise.all([
    import('../storage/jetstream-event-log.ts'),
    import('../distributed/kv-slot-store.ts'),
    import('../host/shared-slots.ts'),
  ]);
  if (!(store.log instanceof JetStreamEventLog)) return embeddedSlotDocs(store.root);
  // No bucket (no capped operator ever ran) or one this user may not read: no slot waits to show, the views still answer.
  const slots = await KvSlotStore.openExisting(store.log.connection).catch(() => undefined);
  if (slots === undefined) return () => emptySlotDoc();
  // The same for one key: a slot wait is a hint in status/explain, never a reason for them to fail.
  return (operatorKey) => slots.read(storeKey(operatorKey)).catch(() => emptySlotDoc());
}
