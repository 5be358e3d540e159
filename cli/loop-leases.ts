import { hostname } from 'node:os';
import { CLI_HOLDER_PREFIX, isCliHolder, type RunLeases } from '../distributed/run-leases.ts';
import type { RunStore } from '../host/run-store.ts';
import { errorMessage, MatterStackError } from '../events/errors.ts';
import type { CommandContext } from './command.ts';
import { natsTarget, type NatsTarget } from './nats-target.ts';
import { SerialQueue } from '../events/serial-queue.ts';


/** This process as a lease holder: a CLI, where, which process (no `.`: holder ids go into NATS subjects). */
export function cliHolderId(): string {
  const host = hostname().replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 24);
  return `${CLI_HOLDER_PREFIX}${host}:${process.pid}`;
}

function describeHolder(holder: string): string {
  return isCliHolder(holder) ? `another "matterstack loop" (${holder})` : `worker ${holder}`;
}

/** The refusal of `loop --nats` for a run someone else holds the lease of (COMMAND_REJECTED). */
export function hostedError(runId: string, holder: string): MatterStackError {
  const advice = isCliHolder(holder)
    ? 'let it finish or stop it, then loop again'
    : `send it commands instead (e.g. "matterstack pause ${runId} --nats …"), or stop that worker and loop again`;
  return new MatterStackError('COMMAND_REJECTED', `run ${runId} is hosted by ${describeHolder(holder)}, which drives it already: ${advice}`, {
    runId,
    holder,
    reason: 'hosted',
  });
}

interface Claim {
  /** Aborted (with the error to report) when the lease is no longer ours. */
  lost: AbortController;
  keptAt: number;
}

/**
 * The leases of the runs `loop --nats` drives, taken in the bucket the workers use, so that a
 * worker never hosts a run the loop drives and the loop never drives a run a worker hosts (both
 * would run its effects). Renewed every third of the bucket's TTL; released on `release`/`close`.
 */
export class LoopLeases {
  private readonly claims = new Map<string, Claim>();
  // Acquire, renew and release of one run must not interleave: a release racing a renewal deletes
  // at a stale revision (so the entry stays) and the renewal then re-records the lease as ours.
  private readonly queue = new SerialQueue();
  private readonly timer: NodeJS.Timeout;

  private constructor(
    private readonly leases: RunLeases,
    private readonly expiryMs: number,
  ) {
    this.timer = setInterval(() => void this.queue.run(() => this.renewAll()), Math.max(200, Math.floor(expiryMs / 3)));
  }

  /** Opens the lease bucket on the connection of the store's JetStream log, as this CLI process. */
  static async open(store: RunStore, target: NatsTarget): Promise<LoopLeases> {
    const [{ JetStreamEventLog }, { RunLeases, DEFAULT_LEASE_TTL_MS }] = await Promise.all([import('../storage/jetstream-event-log.ts'), import('../distributed/run-leases.ts')]);
    if (!(store.log instanceof JetStreamEventLog)) throw new Error('loop --nats: the store is not on JetStream');
    try {
      const leases = await RunLeases.open(store.log.connection, { workerId: cliHolderId(), ttlMs: DEFAULT_LEASE_TTL_MS });
      return new LoopLeases(leases, await leases.expiryMs());
    } catch (error) {
      const who = `NATS user "${target.user ?? '(anonymous)'}"`;
      if (/permissions violation/i.test(errorMessage(error))) {
        throw new MatterStackError(
          'COMMAND_REJECTED',
          `${who} is not allowed to use the run leases (KV bucket MS_LEASES): loop --nats drives runs itself, which takes the orchestrator's permissions; send commands to a worker instead`,
          { servers: target.display, reason: 'permission' },
          { cause: error },
        );
      }
      throw new MatterStackError('LOG_UNAVAILABLE', `cannot open the run leases (KV bucket MS_LEASES) as ${who}: ${errorMessage(error)}`, { servers: target.display }, { cause: error });
    }
  }

  /** Takes the lease of `runId` (kept if already ours); the holder's id when someone else has it. */
  async claim(runId: string): Promise<string | undefined> {
    return this.queue.run(async () => {
      if (this.claims.has(runId)) return undefined;
      let holder: string | undefined;
      for (let attempt = 0; attempt < 2; attempt++) {
        if (await this.leases.acquire(runId)) {
          this.claims.set(runId, { lost: new AbortController(), keptAt: Date.now() });
          return undefined;
        }
        holder = await this.leases.owner(runId);
        // Released or expired between the two calls: worth one more try.
        if (holder !== undefined) break;
      }
      return holder ?? 'another process';
    });
  }

  /** Aborted when the lease of claimed run `runId` is lost; its reason is the error to report. */
  lostSignal(runId: string): AbortSignal {
    const claim = this.claims.get(runId);
    if (claim === undefined) throw new Error(`run ${runId} was not claimed`);
    return claim.lost.signal;
  }

  /** Throws why the lease of `runId` was lost, if it was. */
  throwIfLost(runId: string): void {
    const signal = this.claims.get(runId)?.lost.signal;
    if (signal?.aborted) throw signal.reason;
  }

  /** Gives the lease of `runId` up, so a worker may host the run at once. */
  async release(runId: string): Promise<void> {
    await this.queue.run(async () => {
      this.claims.delete(runId);
      await this.leases.release(runId);
    });
  }

  /** Stops renewing and releases every lease still held. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.queue.run(async () => {
      for (const runId of this.claims.keys()) await this.leases.release(runId);
      this.claims.clear();
    });
  }

  private async renewAll(): Promise<void> {
    for (const [runId, claim] of this.claims) {
      if (claim.lost.signal.aborted) continue;
      const outcome = await this.leases.renew(runId);
      if (outcome === 'kept') claim.keptAt = Date.now();
      else if (outcome === 'lost') {
        // The holder only completes the message: the lease is lost whether or not it can be named.
        const holder = await this.leases.owner(runId).catch(() => undefined);
        const why = holder === undefined ? 'it expired' : `${describeHolder(holder)} holds it now`;
        claim.lost.abort(lostError(runId, `lost its lease (${why})`, 'COMMAND_REJECTED'));
      } else if (Date.now() - claim.keptAt >= this.expiryMs) {
        // Unrenewed for a whole TTL: the entry has expired and a worker may host the run already.
        this.leases.forget(runId);
        claim.lost.abort(lostError(runId, `could not renew its lease for ${Math.round(this.expiryMs / 1000)} s (NATS unreachable)`, 'LOG_UNAVAILABLE'));
      }
    }
  }
}

function lostError(runId: string, what: string, code: 'COMMAND_REJECTED' | 'LOG_UNAVAILABLE'): MatterStackError {
  return new MatterStackError(code, `run ${runId} ${what}: loop stopped driving it so that it is never driven twice; tasks already started keep running`, {
    runId,
    reason: 'lease-lost',
  });
}

/** Runs `body` with the run leases of `loop --nats`, closed afterwards; undefined on the embedded path (no workers to keep out). */
export async function withLoopLeases<T>(ctx: CommandContext, store: RunStore, body: (leases: LoopLeases | undefined) => Promise<T>): Promise<T> {
  const target = natsTarget(ctx);
  if (target === undefined) return body(undefined);
  const leases = await LoopLeases.open(store, target);
  try {
    return await body(leases);
  } finally {
    await leases.close();
  }
}
