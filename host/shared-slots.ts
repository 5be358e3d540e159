import { rootLogger, type Logger } from '../events/logger.ts';
import { adoptSlot, grantSlots, pruneExpired, releaseSlots, renewSlots, slotUsage, type SlotDoc, type SlotRequest } from './slot-semaphore.ts';

/** Where the slot documents live: one per operator key, updated atomically (KV compare-and-set, a SQLite transaction). */
export interface SlotStore {
  /** Reads the document of `key` (empty when missing), applies `change` and writes it back atomically, retrying on a concurrent write. */
  update<T>(key: string, change: (doc: SlotDoc) => T): Promise<T>;
  /** The document of `key` as it is now. */
  read(key: string): Promise<SlotDoc>;
}

/** Timing of a SharedSlots: how long an entry lives unrenewed, how often waiters ask again. */
export interface SharedSlotsOptions {
  /** A dead holder's slots come back after this long. */
  leaseMs: number;
  /** How often waiting requests are put to the store again. Default 200 ms. */
  pollMs?: number;
  logger?: Logger;
}

interface Waiting {
  operatorKey: string;
  attemptId: string;
  request: SlotRequest;
  /** Everyone waiting for this slot (a host and its successor may both ask): each is told once. */
  callers: Set<(granted: boolean) => void>;
}

/** What `status` and `explain` say about a task waiting for a shared slot. */
export interface SlotWait {
  operatorKey: string;
  cap: number;
  held: number;
  byOthers: number;
}

/**
 * The slots of operators capped with `max_concurrent`, shared by every run (and every process) that
 * uses the same store: an attempt takes one before it is submitted and gives it back when it ends.
 * Entries are leased: this process renews its own, a dead holder's expire after `leaseMs`.
 */
export class SharedSlots {
  /** By line key (pool and slot id: an attempt may wait for its operator's pool and the global one). */
  private readonly waiting = new Map<string, Waiting>();
  /** Line key → pool, run and attempt of the slots this holder has. */
  private readonly held = new Map<string, { operatorKey: string; runId: string; attemptId: string }>();
  private readonly waits = new Map<string, SlotWait>();
  private readonly timer: NodeJS.Timeout;
  private lastRenew = 0;
  private pumping: Promise<void> | undefined;
  private readonly logger: Logger;
  private closed = false;

  constructor(
    private readonly store: SlotStore,
    readonly holder: string,
    private readonly options: SharedSlotsOptions,
  ) {
    this.logger = options.logger ?? rootLogger();
    this.timer = setInterval(() => void this.pump(), options.pollMs ?? 200);
    this.timer.unref();
  }

  /** True when this holder has a slot of pool `operatorKey` for the attempt. */
  isHeld(operatorKey: string, runId: string, attemptId: string): boolean {
    return this.held.has(lineKey(operatorKey, slotId(runId, attemptId)));
  }

  /** The attempts of `runId` holding a slot here (of any pool). */
  heldOf(runId: string): string[] {
    return [...new Set([...this.held.values()].filter((h) => h.runId === runId).map((h) => h.attemptId))];
  }

  /** Asks for a slot for the attempt; resolves true once granted, false when cancelled (`cancel`, `close`, or the signal). */
  acquire(operatorKey: string, asked: { runId: string; attemptId: string; cap: number }, signal?: AbortSignal): Promise<boolean> {
    const request: SlotRequest = { slotId: slotId(asked.runId, asked.attemptId), runId: asked.runId, cap: asked.cap };
    const line = lineKey(operatorKey, request.slotId);
    if (this.held.has(line)) return Promise.resolve(true);
    if (this.closed || signal?.aborted) return Promise.resolve(false);
    let waiting = this.waiting.get(line);
    if (waiting === undefined) {
      waiting = { attemptId: asked.attemptId, operatorKey, request, callers: new Set() };
      this.waiting.set(line, waiting);
    }
    const inLine = waiting;
    return new Promise<boolean>((resolve) => {
      const caller = (granted: boolean): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve(granted);
      };
      // Only this caller gives up; the place in line goes when nobody waits for it any more.
      const onAbort = (): void => {
        inLine.callers.delete(caller);
        resolve(false);
        if (inLine.callers.size === 0 && this.waiting.get(line) === inLine) void this.cancelLine(line);
      };
      inLine.callers.add(caller);
      signal?.addEventListener('abort', onAbort, { once: true });
      void this.pump();
    });
  }

  /** Records a slot for an attempt that is already running (found active on restore), whatever the count. */
  async adopt(operatorKey: string, runId: string, attemptId: string): Promise<void> {
    const id = slotId(runId, attemptId);
    const line = lineKey(operatorKey, id);
    if (this.held.has(line)) return;
    this.held.set(line, { operatorKey, runId, attemptId });
    await this.store.update(storeKey(operatorKey), (doc) => adoptSlot(doc, this.holder, id, runId, Date.now(), this.options.leaseMs));
  }

  /** Gives up the attempt's slots, or its places in line, in every pool. */
  async cancel(runId: string, attemptId: string): Promise<void> {
    const id = slotId(runId, attemptId);
    const lines = [...new Set([...this.held.keys(), ...this.waiting.keys()])].filter((line) => slotIdOf(line) === id);
    await Promise.all(lines.map((line) => this.cancelLine(line)));
  }

  /** Gives up one slot, or one place in line. */
  private async cancelLine(line: string): Promise<void> {
    const waiting = this.waiting.get(line);
    this.waiting.delete(line);
    this.waits.delete(line);
    for (const caller of waiting?.callers ?? []) caller(false);
    const operatorKey = this.held.get(line)?.operatorKey ?? waiting?.operatorKey;
    const attemptId = this.held.get(line)?.attemptId ?? waiting?.attemptId;
    this.held.delete(line);
    const id = slotIdOf(line);
    if (operatorKey === undefined) return;
    try {
      await this.store.update(storeKey(operatorKey), (doc) => releaseSlots(doc, this.holder, [id]));
    } catch (error) {
      this.logger.warn({ err: error, attemptId }, 'slot not released (it expires with its lease)');
    }
    void this.pump();
  }

  /** Why the attempt waits, when it waits for a slot others hold (of the first pool it waits for). */
  waitOf(runId: string, attemptId: string): SlotWait | undefined {
    const id = slotId(runId, attemptId);
    for (const [line, wait] of this.waits) if (slotIdOf(line) === id) return wait;
    return undefined;
  }

  /**
   * Stops renewing and gives every place in line back. Held slots stay until their lease ends: their
   * attempts keep running, and whoever hosts their runs next adopts them (given back now, another run
   * could take them meanwhile and the operator would run more than its cap).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.pumping;
    await Promise.allSettled([...this.waiting.values()].map((w) => this.cancel(w.request.runId, w.attemptId)));
  }

  /** One round: every operator key with waiters is asked again; held slots are renewed every third of the lease. */
  private pump(): Promise<void> {
    this.pumping ??= this.round().finally(() => {
      this.pumping = undefined;
    });
    return this.pumping;
  }

  private async round(): Promise<void> {
    if (this.closed) return;
    const now = Date.now();
    const renew = now - this.lastRenew >= this.options.leaseMs / 3;
    const keys = new Set([...this.waiting.values()].map((w) => w.operatorKey));
    if (renew) {
      this.lastRenew = now;
      for (const { operatorKey } of this.held.values()) keys.add(operatorKey);
    }
    for (const operatorKey of keys) {
      const requests = [...this.waiting.values()].filter((w) => w.operatorKey === operatorKey).map((w) => w.request);
      const heldHere = [...this.held.entries()].filter(([, h]) => h.operatorKey === operatorKey).map(([line]) => slotIdOf(line));
      const mine = new Set([...heldHere, ...requests.map((r) => r.slotId)]);
      try {
        const { granted, usage } = await this.store.update(storeKey(operatorKey), (doc) => {
          const at = Date.now();
          pruneExpired(doc, at);
          renewSlots(doc, this.holder, mine, at, this.options.leaseMs);
          const grantedNow = grantSlots(doc, this.holder, requests, at, this.options.leaseMs);
          return { granted: grantedNow, usage: requests.map((r) => ({ request: r, ...slotUsage(doc, r.runId) })) };
        });
        for (const { request, held, byOthers } of usage) {
          const line = lineKey(operatorKey, request.slotId);
          const waiting = this.waiting.get(line);
          if (waiting === undefined) {
            // Cancelled while the store was asked: a slot granted meanwhile goes back.
            if (granted.has(request.slotId)) {
              void this.store
                .update(storeKey(operatorKey), (doc) => releaseSlots(doc, this.holder, [request.slotId]))
                .catch((err: unknown) => this.logger.warn({ err, operator: operatorKey }, 'slot granted after a cancel not given back (it expires with its lease)'));
            }
            continue;
          }
          if (granted.has(request.slotId)) {
            this.waiting.delete(line);
            this.waits.delete(line);
            this.held.set(line, { operatorKey, runId: request.runId, attemptId: waiting.attemptId });
            for (const caller of waiting.callers) caller(true);
          } else {
            this.waits.set(line, { operatorKey, cap: request.cap, held, byOthers });
          }
        }
      } catch (error) {
        this.logger.warn({ err: error, operator: operatorKey }, 'shared slots not updated; trying again');
      }
    }
  }

  /** The document of an operator's slots as the store has it now (holders and waiters of every run). */
  async read(operatorKey: string): Promise<SlotDoc> {
    const doc = await this.store.read(storeKey(operatorKey));
    pruneExpired(doc, Date.now());
    return doc;
  }
}

/** A slot's id in the store: attempt ids repeat across runs (`t0-a1`), run and attempt together do not. */
export function slotId(runId: string, attemptId: string): string {
  return `${runId}/${attemptId}`;
}

/** The pool of the global cap (`defaults.max_concurrent_global` set in operators.yaml), beside the operators' pools (operator keys always hold a dot). */
export const GLOBAL_POOL = 'global';

/** Key of one slot (or place in line) of a pool in this holder's maps. */
function lineKey(operatorKey: string, id: string): string {
  return `${operatorKey} ${id}`;
}

/** The slot id of a line key. */
function slotIdOf(line: string): string {
  return line.slice(line.indexOf(' ') + 1);
}

/** The store key of an operator's slots (KV keys allow letters, digits, `-_.=/`). */
export function storeKey(operatorKey: string): string {
  return `op.${operatorKey.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
}
