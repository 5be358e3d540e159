import fs from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SharedSlots, storeKey, type SlotStore } from './shared-slots.ts';
import { emptySlotDoc, pruneExpired, SlotDocSchema, type SlotDoc } from './slot-semaphore.ts';
import { STATE_DIR } from './run-store.ts';

/** The file of a workspaces root where the runs of every `loop` share operator slots. */
export const SLOTS_FILE = 'slots.sqlite';

/** Slot documents in a SQLite file: each update is one IMMEDIATE transaction, so processes take turns. */
export class SqliteSlotStore implements SlotStore {
  private readonly db: Database.Database;

  constructor(file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file, { timeout: 10_000 });
    this.db.pragma('journal_mode = WAL');
    this.db.exec('CREATE TABLE IF NOT EXISTS slot_docs (key TEXT PRIMARY KEY, doc TEXT NOT NULL)');
  }

  read(key: string): Promise<SlotDoc> {
    return Promise.resolve(this.readNow(key));
  }

  update<T>(key: string, change: (doc: SlotDoc) => T): Promise<T> {
    const run = this.db.transaction(() => {
      const doc = this.readNow(key);
      const result = change(doc);
      this.db.prepare('INSERT INTO slot_docs (key, doc) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET doc = excluded.doc').run(key, JSON.stringify(doc));
      return result;
    });
    return Promise.resolve(run.immediate());
  }

  private readNow(key: string): SlotDoc {
    return docOf(this.db.prepare('SELECT doc FROM slot_docs WHERE key = ?').get(key) as { doc: string } | undefined);
  }
}

/** The document a row holds; a document nobody can read is taken as empty (its entries would expire anyway). */
function docOf(row: { doc: string } | undefined): SlotDoc {
  if (row === undefined) return emptySlotDoc();
  const parsed = SlotDocSchema.safeParse(JSON.parse(row.doc));
  return parsed.success ? parsed.data : emptySlotDoc();
}

/** Slot lease on the embedded log: a `loop` killed while holding slots gives them back after this long. */
export const EMBEDDED_SLOT_LEASE_MS = 30_000;

const embedded = new Map<string, SharedSlots>();

/** This process's share of the operator slots of a workspaces root (one per root, made on first use). */
export function embeddedSlots(root: string): SharedSlots {
  const file = path.join(root, STATE_DIR, SLOTS_FILE);
  let slots = embedded.get(file);
  if (slots === undefined) {
    slots = new SharedSlots(new SqliteSlotStore(file), `pid-${hostname()}-${process.pid}`, { leaseMs: EMBEDDED_SLOT_LEASE_MS });
    embedded.set(file, slots);
  }
  return slots;
}

/**
 * The live entries of an operator's shared slots on the embedded log of `root`, read without
 * writing (a viewer's `explain`); empty when no `loop` ever shared a slot there.
 */
export function readEmbeddedSlotDoc(root: string, operatorKey: string): SlotDoc {
  const file = path.join(root, STATE_DIR, SLOTS_FILE);
  if (!fs.existsSync(file)) return emptySlotDoc();
  const db = new Database(file, { readonly: true, timeout: 10_000 });
  try {
    const doc = docOf(db.prepare('SELECT doc FROM slot_docs WHERE key = ?').get(storeKey(operatorKey)) as { doc: string } | undefined);
    pruneExpired(doc, Date.now());
    return doc;
  } finally {
    db.close();
  }
}
