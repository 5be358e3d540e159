import { z } from 'zod';

// The shared slots of one operator key, as one document that every host updates by
// compare-and-set (a JetStream KV revision, a SQLite transaction). Pure: the caller passes the clock.

const EntrySchema = z.object({ runId: z.string(), holder: z.string(), expiresAt: z.number() });
const WaiterSchema = EntrySchema.extend({ since: z.number() });

/** Who holds the slots of one operator key, who waits for one, and when each run was last granted one. */
export const SlotDocSchema = z.object({
  holders: z.record(z.string(), EntrySchema),
  waiters: z.record(z.string(), WaiterSchema),
  lastGrant: z.record(z.string(), z.number()),
});
export type SlotDoc = z.output<typeof SlotDocSchema>;

/** One attempt asking for a slot of its operator (`slotId`: run and attempt, unique in the log; `cap`: the operator's `max_concurrent`). */
export interface SlotRequest {
  slotId: string;
  runId: string;
  cap: number;
}

/** An empty document (no holder, no waiter). */
export function emptySlotDoc(): SlotDoc {
  return { holders: {}, waiters: {}, lastGrant: {} };
}

/** Drops the entries whose holder stopped renewing them, and the grant times of runs with no entry left. */
export function pruneExpired(doc: SlotDoc, now: number): void {
  for (const [id, entry] of Object.entries(doc.holders)) if (entry.expiresAt < now) delete doc.holders[id];
  for (const [id, entry] of Object.entries(doc.waiters)) if (entry.expiresAt < now) delete doc.waiters[id];
  const live = new Set([...Object.values(doc.holders), ...Object.values(doc.waiters)].map((e) => e.runId));
  for (const runId of Object.keys(doc.lastGrant)) if (!live.has(runId)) delete doc.lastGrant[runId];
}

/**
 * Grants what can be granted to `requests` (all of one holder), the others wait in the document.
 * Fair across runs: free slots go to the waiters (of every holder) whose run was granted one
 * longest ago, so a run with many ready tasks cannot starve another. Returns the granted slot ids.
 */
export function grantSlots(doc: SlotDoc, holder: string, requests: readonly SlotRequest[], now: number, leaseMs: number): Set<string> {
  const granted = new Set<string>();
  const expiresAt = now + leaseMs;
  for (const request of requests) {
    if (doc.holders[request.slotId] !== undefined) {
      doc.holders[request.slotId] = { runId: request.runId, holder, expiresAt };
      granted.add(request.slotId);
      continue;
    }
    const since = doc.waiters[request.slotId]?.since ?? now;
    doc.waiters[request.slotId] = { runId: request.runId, holder, expiresAt, since };
  }
  const mine = new Map(requests.map((r) => [r.slotId, r]));
  let held = Object.keys(doc.holders).length;
  for (const [slotId, waiter] of fairOrder(doc)) {
    const request = mine.get(slotId);
    // Each asker brings its own cap (runs may configure the operator differently): the smallest that applies wins.
    const cap = request?.cap ?? Number.POSITIVE_INFINITY;
    if (held >= cap) {
      if (request !== undefined) continue;
      // A waiter of another holder is first in line: it keeps its place, the slot is left for it.
      held += 1;
      continue;
    }
    if (request === undefined) {
      held += 1;
      continue;
    }
    delete doc.waiters[slotId];
    doc.holders[slotId] = { runId: waiter.runId, holder, expiresAt };
    doc.lastGrant[waiter.runId] = now;
    held += 1;
    granted.add(slotId);
  }
  return granted;
}

/**
 * The waiters in the order they are served: round-robin over their runs (the run granted a slot
 * longest ago first), each run's waiters oldest first.
 */
function fairOrder(doc: SlotDoc): [string, SlotDoc['waiters'][string]][] {
  const byRun = new Map<string, [string, SlotDoc['waiters'][string]][]>();
  const sorted = Object.entries(doc.waiters).sort(([a, x], [b, y]) => x.since - y.since || (a < b ? -1 : 1));
  for (const entry of sorted) {
    const queue = byRun.get(entry[1].runId);
    if (queue === undefined) byRun.set(entry[1].runId, [entry]);
    else queue.push(entry);
  }
  // A run never granted a slot comes first.
  const served = (runId: string): number => doc.lastGrant[runId] ?? Number.NEGATIVE_INFINITY;
  const runs = [...byRun.keys()].sort((a, b) => (served(a) === served(b) ? (a < b ? -1 : 1) : served(a) < served(b) ? -1 : 1));
  const order: [string, SlotDoc['waiters'][string]][] = [];
  for (let round = 0; order.length < sorted.length; round++) {
    for (const runId of runs) {
      const next = byRun.get(runId)?.[round];
      if (next !== undefined) order.push(next);
    }
  }
  return order;
}

/** Records `slotId` as held whatever the count (an attempt already running, found on restore). */
export function adoptSlot(doc: SlotDoc, holder: string, slotId: string, runId: string, now: number, leaseMs: number): void {
  delete doc.waiters[slotId];
  doc.holders[slotId] = { runId, holder, expiresAt: now + leaseMs };
}

/** Extends the entries (held or waiting) of `holder` for these slots; its others are left to expire. */
export function renewSlots(doc: SlotDoc, holder: string, slotIds: ReadonlySet<string>, now: number, leaseMs: number): void {
  for (const [id, entry] of [...Object.entries(doc.holders), ...Object.entries(doc.waiters)]) if (entry.holder === holder && slotIds.has(id)) entry.expiresAt = now + leaseMs;
}

/** Gives up the slots (or places in line) `holder` has for these ids (one another host adopted since stays). */
export function releaseSlots(doc: SlotDoc, holder: string, slotIds: Iterable<string>): void {
  for (const id of slotIds) {
    if (doc.holders[id]?.holder === holder) delete doc.holders[id];
    if (doc.waiters[id]?.holder === holder) delete doc.waiters[id];
  }
}

/** How many slots are held, and how many by runs other than `runId`. */
export function slotUsage(doc: SlotDoc, runId: string): { held: number; byOthers: number } {
  const holders = Object.values(doc.holders);
  return { held: holders.length, byOthers: holders.filter((h) => h.runId !== runId).length };
}
