import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';

const encoder = new TextEncoder();

/**
 * The workers alive on a log (a KV bucket whose entries expire): each worker puts its id when it
 * starts and again with every lease renewal, and deletes it when it drains. A worker that died
 * drops out after the bucket's TTL. Workers size their fair share of the runs from it.
 */
export class WorkerPresence {
  private constructor(private readonly kv: KV) {}

  /** Opens (creating if missing) the presence bucket; entries live `ttlMs` after their last put. */
  static async open(nc: NatsConnection, options: { ttlMs: number; replicas?: number; bucket?: string }): Promise<WorkerPresence> {
    return new WorkerPresence(await new Kvm(nc).create(options.bucket ?? 'MS_WORKERS', { history: 1, ttl: options.ttlMs, replicas: options.replicas ?? 1 }));
  }

  /** Says `workerId` is alive (for another TTL). */
  async announce(workerId: string): Promise<void> {
    await this.kv.put(workerId, encoder.encode(new Date().toISOString()));
  }

  /** Says `workerId` is gone (a drained worker leaves at once instead of after the TTL). */
  async leave(workerId: string): Promise<void> {
    await this.kv.delete(workerId);
  }

  /** How many workers are alive (at least 1: the one asking). */
  async count(): Promise<number> {
    let workers = 0;
    for await (const _key of await this.kv.keys()) workers += 1;
    return Math.max(1, workers);
  }
}

/** The most runs one worker should host: an even share, rounded up (the issue allows one more while runs move). */
export function fairShare(runs: number, workers: number): number {
  return Math.ceil(runs / Math.max(1, workers));
}
