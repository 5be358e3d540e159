import { Kvm, type KV, type KvWatchEntry } from '@nats-io/kv';
import type { NatsConnection, QueuedIterator } from '@nats-io/transport-node';
import { z } from 'zod';
import type { WorkerLoads } from './spread-policy.ts';

/** What a presence entry says: how many runs the worker hosts. */
const PresenceValueSchema = z.object({ hosted: z.number().int().nonnegative() });

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A worker as last heard of: its load and when (this process's clock) its entry arrived. */
interface Sighting {
  hosted: number;
  heardAt: number;
}

/**
 * The workers alive on a log (a KV bucket whose entries expire): each worker puts its id and
 * load when it starts, whenever its load changes and with every lease renewal, and deletes it
 * when it drains. A worker that died drops out after the TTL. Workers spread the runs from it.
 *
 * Loads are read from a watcher kept open, not from `kv.keys()`: listing keys of a bucket whose
 * entries expire waits for an idle heartbeat whenever an entry expires mid-listing, which held a
 * worker's takeover scan for seconds while the others took every orphaned run.
 */
export class WorkerPresence {
  private readonly sightings = new Map<string, Sighting>();
  private readonly onSighting = new Set<(workerId: string) => void>();

  private constructor(
    private readonly kv: KV,
    private readonly ttlMs: number,
    private readonly watcher: QueuedIterator<KvWatchEntry>,
  ) {}

  /** Opens (creating if missing) the presence bucket; entries live `ttlMs` after their last put. */
  static async open(nc: NatsConnection, options: { ttlMs: number; replicas?: number; bucket?: string }): Promise<WorkerPresence> {
    const kv = await new Kvm(nc).create(options.bucket ?? 'MS_WORKERS', { history: 1, ttl: options.ttlMs, replicas: options.replicas ?? 1 });
    const presence = new WorkerPresence(kv, options.ttlMs, await kv.watch({ key: '>' }));
    void presence.follow();
    return presence;
  }

  /** Says `workerId` is alive (for another TTL) and hosts `hosted` runs. */
  async announce(workerId: string, hosted: number): Promise<void> {
    await this.kv.put(workerId, encoder.encode(JSON.stringify({ hosted })));
  }

  /**
   * Resolves once the watcher has delivered `workerId`'s entry (at most after `timeoutMs`): the
   * watcher delivers in order, so the loads then include every worker that announced before it.
   */
  async heard(workerId: string, timeoutMs: number): Promise<void> {
    if (this.sightings.has(workerId)) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.onSighting.delete(listener);
        resolve();
      };
      const listener = (seen: string): void => {
        if (seen === workerId) done();
      };
      const timer = setTimeout(done, timeoutMs);
      this.onSighting.add(listener);
    });
  }

  /** Says `workerId` is gone (a drained worker leaves at once instead of after the TTL). */
  async leave(workerId: string): Promise<void> {
    await this.kv.delete(workerId);
  }

  /** The live workers and how many runs each hosts: those heard from within the TTL. */
  loads(): WorkerLoads {
    const heardSince = Date.now() - this.ttlMs;
    const loads = new Map<string, number>();
    for (const [workerId, sighting] of this.sightings) if (sighting.heardAt >= heardSince) loads.set(workerId, sighting.hosted);
    return loads;
  }

  /** Stops watching the bucket. */
  close(): void {
    this.watcher.stop();
  }

  private async follow(): Promise<void> {
    for await (const entry of this.watcher) {
      if (entry.operation !== 'PUT') {
        this.sightings.delete(entry.key);
        continue;
      }
      try {
        const parsed = PresenceValueSchema.safeParse(JSON.parse(decoder.decode(entry.value)));
        if (parsed.success) {
          this.sightings.set(entry.key, { hosted: parsed.data.hosted, heardAt: Date.now() });
          for (const listener of [...this.onSighting]) listener(entry.key);
        }
      } catch {
        // Not JSON: read as no presence, like an entry that fails the schema; the watcher goes on.
      }
    }
  }
}
