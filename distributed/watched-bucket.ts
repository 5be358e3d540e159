import { Kvm, type KvEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';

/**
 * The entries of a KV bucket as a watch last delivered them, held in memory so that a status is
 * answered without a round trip to the servers (a `get` took 10–130 ms on a loaded cluster, most
 * of the status round trip). Entries are kept undecoded: most are replaced before anyone reads them.
 * An entry the bucket's TTL removed stays here (the server sends no notice): readers check its age.
 */
export class WatchedBucket {
  private readonly entries = new Map<string, KvEntry>();

  private constructor() {}

  /** Starts watching `bucket` (which must exist): its current entries come first, then every update. */
  static async open(nc: NatsConnection, bucket: string): Promise<WatchedBucket> {
    const watched = new WatchedBucket();
    const watch = await (await new Kvm(nc).open(bucket)).watch({ key: '>' });
    void (async () => {
      for await (const entry of watch) watched.entries.set(entry.key, entry);
    })();
    return watched;
  }

  /** The last entry delivered for `key`. */
  get(key: string): KvEntry | undefined {
    return this.entries.get(key);
  }
}
