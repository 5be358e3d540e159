import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { z } from 'zod';
import type { WorkerLoads } from './spread-policy.ts';

/** What a presence entry says: how many runs the worker hosts. */
const PresenceValueSchema = z.object({ hosted: z.number().int().nonnegative() });

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The workers alive on a log (a KV bucket whose entries expire): each worker puts its id and
 * load when it starts, whenever its load changes and with every lease renewal, and deletes it
 * when it drains. A worker that died drops out after the bucket's TTL. Workers spread the runs
 * from it.
 */
export class WorkerPresence {
  private constructor(private readonly kv: KV) {}

  /** Opens (creating if missing) the presence bucket; entries live `ttlMs` after their last put. */
  static async open(nc: NatsConnection, options: { ttlMs: number; replicas?: number; bucket?: string }): Promise<WorkerPresence> {
    return new WorkerPresence(await new Kvm(nc).create(options.bucket ?? 'MS_WORKERS', { history: 1, ttl: options.ttlMs, replicas: options.replicas ?? 1 }));
  }

  /** Says `workerId` is alive (for another TTL) and hosts `hosted` runs. */
  async announce(workerId: string, hosted: number): Promise<void> {
    await this.kv.put(workerId, encoder.encode(JSON.stringify({ hosted })));
  }

  /** Says `workerId` is gone (a drained worker leaves at once instead of after the TTL). */
  async leave(workerId: string): Promise<void> {
    await this.kv.delete(workerId);
  }

  /** The live workers and how many runs each hosts. */
  async loads(): Promise<WorkerLoads> {
    const keys: string[] = [];
    for await (const key of await this.kv.keys()) keys.push(key);
    const loads = new Map<string, number>();
    await Promise.all(
      keys.map(async (key) => {
        const entry = await this.kv.get(key);
        if (entry === null || entry.operation !== 'PUT') return;
        const parsed = PresenceValueSchema.safeParse(JSON.parse(decoder.decode(entry.value)));
        if (parsed.success) loads.set(key, parsed.data.hosted);
      }),
    );
    return loads;
  }
}
