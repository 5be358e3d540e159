import { Kvm, type KV, type KvEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { SlotStore } from '../host/shared-slots.ts';
import { emptySlotDoc, SlotDocSchema, type SlotDoc } from '../host/slot-semaphore.ts';
import { isWrongSequence } from './run-leases.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Name of the KV bucket holding the shared operator slots. */
export const SLOTS_BUCKET = 'MS_SLOTS';

/** How many times an update is tried against concurrent writers before it gives up for this round. */
const MAX_TRIES = 50;

/**
 * Slot documents in a JetStream KV bucket: an update reads the entry, changes it and writes it
 * back at the revision it read (compare-and-set), again from the top when another worker wrote first.
 */
export class KvSlotStore implements SlotStore {
  private constructor(private readonly kv: KV) {}

  /** Opens (creating if missing) the slots bucket with `replicas` copies. */
  static async open(nc: NatsConnection, options: { replicas?: number; bucket?: string } = {}): Promise<KvSlotStore> {
    const kv = await new Kvm(nc).create(options.bucket ?? SLOTS_BUCKET, { history: 1, replicas: options.replicas ?? 1 });
    return new KvSlotStore(kv);
  }

  /** Opens the slots bucket if it exists, to read it (throws when it does not, or the user may not read it). */
  static async openExisting(nc: NatsConnection, bucket = SLOTS_BUCKET): Promise<KvSlotStore> {
    const kv = await new Kvm(nc).open(bucket);
    await kv.status();
    return new KvSlotStore(kv);
  }

  async read(key: string): Promise<SlotDoc> {
    return (await this.readEntry(key)).doc;
  }

  async update<T>(key: string, change: (doc: SlotDoc) => T): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const { doc, revision } = await this.readEntry(key);
      const result = change(doc);
      const value = encoder.encode(JSON.stringify(doc));
      try {
        if (revision === 0) await this.kv.create(key, value);
        else await this.kv.update(key, value, revision);
        return result;
      } catch (error) {
        if (!(isWrongSequence(error) || /exists|wrong last sequence/i.test(String(error))) || attempt >= MAX_TRIES) throw error;
        // Another worker wrote first: read its version and decide again, after a short random pause.
        await new Promise((r) => setTimeout(r, Math.random() * 20));
      }
    }
  }

  private async readEntry(key: string): Promise<{ doc: SlotDoc; revision: number }> {
    const entry = await this.kv.get(key);
    return entry === null ? { doc: emptySlotDoc(), revision: 0 } : { doc: slotDocOfEntry(entry), revision: entry.revision };
  }
}

/** The slot document an entry of the bucket holds (empty for a deleted or unreadable one). */
export function slotDocOfEntry(entry: KvEntry): SlotDoc {
  if (entry.operation !== 'PUT' || entry.value.length === 0) return emptySlotDoc();
  const parsed = SlotDocSchema.safeParse(JSON.parse(decoder.decode(entry.value)));
  // A document nobody can read is replaced: its entries would expire anyway.
  return parsed.success ? parsed.data : emptySlotDoc();
}
