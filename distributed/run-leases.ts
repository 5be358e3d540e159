import { Kvm, type KV, type KvEntry } from '@nats-io/kv';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { z } from 'zod';

/** What a lease entry says: who holds the run. */
export const LeaseValueSchema = z.object({ workerId: z.string().min(1), acquiredAt: z.string() });
export type LeaseValue = z.output<typeof LeaseValueSchema>;

/** Name of the KV bucket holding the run leases. */
export const LEASES_BUCKET = 'MS_LEASES';

/** Lease TTL when nobody says otherwise: a dead holder's runs are free again within about this long. */
export const DEFAULT_LEASE_TTL_MS = 10_000;

/** Prefix of the holder ids of `matterstack loop --nats` processes (workers' ids never contain a colon). */
export const CLI_HOLDER_PREFIX = 'cli:';

/** True when `holder` is a CLI loop, not a worker: it serves no commands, it follows the log. */
export function isCliHolder(holder: string): boolean {
  return holder.startsWith(CLI_HOLDER_PREFIX);
}

/**
 * Outcome of a renewal: kept, retaken (it had expired, nobody had taken it, it is ours again),
 * lost (someone else holds it, or it expired and was not retaken), or unknown (server unreachable).
 */
export type RenewOutcome = 'kept' | 'retaken' | 'lost' | 'unknown';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** True when a KV write failed because the entry changed since the revision it expected (compare-and-set lost). */
export function isWrongSequence(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    (error.code === JetStreamApiCodes.StreamWrongLastSequence || error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

/**
 * Run ownership through a JetStream KV bucket whose entries expire (`max_age` = TTL, which
 * nats-server 2.9 honours; per-message TTL it ignores). Acquire = create (CAS on "no live
 * entry"), renew = update at our revision (which also resets the entry's age), release =
 * delete at our revision. A dead worker's entry expires within the TTL and create() succeeds
 * for the next worker.
 */
export class RunLeases {
  private readonly revisions = new Map<string, number>();

  private constructor(
    private readonly kv: KV,
    readonly workerId: string,
    readonly ttlMs: number,
  ) {}

  /** Opens (creating if missing, with `replicas` copies) the lease bucket. */
  static async open(nc: NatsConnection, options: { workerId: string; ttlMs: number; bucket?: string; replicas?: number }): Promise<RunLeases> {
    const kv = await new Kvm(nc).create(options.bucket ?? LEASES_BUCKET, { ttl: options.ttlMs, history: 1, replicas: options.replicas ?? 1 });
    return new RunLeases(kv, options.workerId, options.ttlMs);
  }

  /**
   * How long an entry lives without renewal: the TTL of whoever created the bucket, which may
   * differ from ours (`ttlMs`), so renewals must be timed on this one.
   */
  async expiryMs(): Promise<number> {
    const ttl = (await this.kv.status()).ttl;
    return ttl > 0 ? ttl : this.ttlMs;
  }

  /** Takes the lease of `runId` if nobody holds it; true when it is ours. */
  async acquire(runId: string): Promise<boolean> {
    const value = encoder.encode(JSON.stringify({ workerId: this.workerId, acquiredAt: new Date().toISOString() } satisfies LeaseValue));
    try {
      this.revisions.set(runId, await this.kv.create(runId, value));
      return true;
    } catch (error) {
      if (isWrongSequence(error) || /exists|wrong last sequence/i.test(String(error))) return false;
      throw error;
    }
  }

  /**
   * Extends our lease of `runId`. With `retakeLapsed`, a lease that expired because the renewal
   * came late (a busy event loop) is taken again when nobody else has taken it meanwhile: the
   * fenced log still refuses our next append if another writer got in during the gap.
   */
  async renew(runId: string, options: { retakeLapsed?: boolean } = {}): Promise<RenewOutcome> {
    const revision = this.revisions.get(runId);
    if (revision === undefined) return 'lost';
    const value = encoder.encode(JSON.stringify({ workerId: this.workerId, acquiredAt: new Date().toISOString() } satisfies LeaseValue));
    try {
      this.revisions.set(runId, await this.kv.update(runId, value, revision));
      return 'kept';
    } catch (error) {
      if (isWrongSequence(error) || /wrong last sequence/i.test(String(error))) {
        this.revisions.delete(runId);
        // A retake that fails (the bucket unreachable, another worker first) leaves the lease lost, which the caller handles.
        if (options.retakeLapsed && (await this.acquire(runId).catch(() => false))) return 'retaken';
        return 'lost';
      }
      return 'unknown';
    }
  }

  /** Gives the lease of `runId` up (only if still ours), so another worker can take it at once. */
  async release(runId: string): Promise<void> {
    const revision = this.revisions.get(runId);
    this.revisions.delete(runId);
    if (revision === undefined) return;
    try {
      await this.kv.delete(runId, { previousSeq: revision });
    } catch {
      // Not ours any more, or the server is away: the entry expires by itself.
      return;
    }
  }

  /** Forgets a lease without touching the bucket (it was lost). */
  forget(runId: string): void {
    this.revisions.delete(runId);
  }

  /** Runs whose lease this worker holds. */
  held(): string[] {
    return [...this.revisions.keys()];
  }

  /** The worker holding `runId`, or undefined when nobody does. */
  async owner(runId: string): Promise<string | undefined> {
    const entry = await this.kv.get(runId);
    return entry === null ? undefined : holderOfEntry(entry);
  }
}

/** The holder a lease entry names (undefined for a deleted or unreadable one). */
export function holderOfEntry(entry: KvEntry): string | undefined {
  if (entry.operation !== 'PUT' || entry.value.length === 0) return undefined;
  const parsed = LeaseValueSchema.safeParse(JSON.parse(decoder.decode(entry.value)));
  return parsed.success ? parsed.data.workerId : undefined;
}
