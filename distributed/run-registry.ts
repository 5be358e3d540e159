import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { z } from 'zod';

/** A registry entry: an active run and its workspace. */
export const RegistryEntrySchema = z.object({ workspace: z.string() });
export type RegistryEntry = z.output<typeof RegistryEntrySchema>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The runs workers must keep hosting (a KV bucket, no TTL): put when a run is created or
 * brought back to life, deleted when its host sees it finished. Workers scan it to find runs
 * whose lease nobody holds.
 */
export class RunRegistry {
  private constructor(private readonly kv: KV) {}

  /** Opens (creating if missing) the registry bucket, with `replicas` copies when it creates it. */
  static async open(nc: NatsConnection, bucket = 'MS_RUNS', replicas = 1): Promise<RunRegistry> {
    return new RunRegistry(await new Kvm(nc).create(bucket, { history: 1, replicas }));
  }

  /** Marks `runId` active. */
  async put(runId: string, entry: RegistryEntry): Promise<void> {
    await this.kv.put(runId, encoder.encode(JSON.stringify(entry)));
  }

  /** Marks `runId` finished. */
  async remove(runId: string): Promise<void> {
    await this.kv.delete(runId);
  }

  /** The active run ids. */
  async list(): Promise<string[]> {
    const ids: string[] = [];
    for await (const key of await this.kv.keys()) ids.push(key);
    return ids;
  }

  /** The entry of `runId`, or undefined. */
  async get(runId: string): Promise<RegistryEntry | undefined> {
    const entry = await this.kv.get(runId);
    if (entry === null || entry.operation !== 'PUT') return undefined;
    const parsed = RegistryEntrySchema.safeParse(JSON.parse(decoder.decode(entry.value)));
    return parsed.success ? parsed.data : undefined;
  }
}
