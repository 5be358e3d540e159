import { randomBytes } from 'node:crypto';
import { getPriority, hostname, setPriority } from 'node:os';
import { connect, NoRespondersError, TimeoutError, type NatsConnection } from '@nats-io/transport-node';
import type { CommandReplyMessage, CommandVerb, InitPayload, ListPayload } from '../events/command-messages.ts';
import { rootLogger, type Logger } from '../events/logger.ts';
import { JetStreamEventLog } from '../storage/jetstream-event-log.ts';
import { TERMINAL_RUN_STATUSES } from '../events/statuses.ts';
import type { RegistryOptions } from '../operators/operator-registry.ts';
import { newRunId } from '../host/run-id.ts';
import { RunHost } from '../host/run-host.ts';
import { initializeRun } from '../host/run-lifecycle.ts';
import { RunStore } from '../host/run-store.ts';
import { CommandDedup, replyOfRecord } from './command-dedup.ts';
import { rejected, replyOfError, serveCommands, type CommandHandler, type CommandService, type InitForward } from './command-service.ts';
import { FencedEventLog } from './fenced-event-log.ts';
import { InitDedup } from './init-dedup.ts';
import { DEFAULT_LEASE_TTL_MS, isCliHolder, RunLeases } from './run-leases.ts';
import { RunRegistry } from './run-registry.ts';
import { RunSession, type SessionEnd } from './run-session.ts';
import { KvSlotStore } from './kv-slot-store.ts';
import { SharedSlots } from '../host/shared-slots.ts';
import { WorkerPresence } from './worker-presence.ts';
import { startStatusResponder, type StatusResponder } from './status-responder.ts';
import { initTarget, mayTakeRun } from './spread-policy.ts';
import { appendCommand, isQuery, listReply, logsReply, statusReply } from './worker-replies.ts';

/** Options of `runWorker`. */
export interface WorkerOptions {
  natsUrl: string | string[];
  user?: string;
  pass?: string;
  /** Workspaces root (shared by every worker: attempt directories live there). */
  root: string;
  /** Unique id (letters, digits, `_`, `-`); generated when omitted. */
  workerId?: string;
  /** Lease TTL: a dead worker's runs are taken over within about this long. Default 10 s. */
  leaseTtlMs?: number;
  /** How often to look for runs nobody hosts. Default TTL / 2. */
  scanIntervalMs?: number;
  /** Command-id de-duplication window. Default 2 min. */
  dedupWindowMs?: number;
  /** Events stream name (default MS_EVENTS). */
  stream?: string;
  /** Operator registry options for the runs it hosts (poll intervals, factories). */
  operators?: RegistryOptions;
  /** At start, register active runs found in the log that the registry does not know. Default true. */
  adoptLoggedRuns?: boolean;
  /** Where its diagnostics go (default: the process's logger); every line carries the worker id. */
  logger?: Logger;
  /** Copies of the events stream and the KV buckets it creates. Default: as many as the cluster has servers, at most 3. */
  replicas?: number;
  /**
   * Nice value (0-19) the run stepping moves to once the status thread answers: on a saturated
   * machine the thread's answers then wait for no stepping. It applies to the calling thread (and
   * the threads it starts later), never to the status thread. Default 0: unchanged.
   */
  steppingNice?: number;
  /** Lease of a shared operator slot: a dead worker's slots come back after this long. Default 3 × the run lease TTL (a run is taken over, and its running attempts keep their slots, before then). */
  slotLeaseMs?: number;
}

/** The nice value `matterstack worker` steps its runs at unless told (`--nice`): status answers stay quick on a busy machine. */
export const WORKER_COMMAND_NICE = 10;

/** A running worker. */
export interface WorkerHandle {
  workerId: string;
  /** Run ids hosted right now. */
  hostedRuns(): string[];
  /** Clean shutdown: stops hosting (the runs stay as they are in the log), releases the leases. */
  stop(): Promise<void>;
  /** True once the status thread answers `status`; false if it never will (it failed, or the worker stopped first). */
  statusThreadReady(): Promise<boolean>;
}

function defaultWorkerId(): string {
  const host = hostname().replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 24);
  return `w-${host}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** How long a command id is remembered, so that a retried command is executed once. */
const DEFAULT_DEDUP_WINDOW_MS = 120_000;

/** Replicas for what a worker creates: one per server of the cluster it reached, at most 3 (JetStream's usual maximum). */
export function clusterReplicas(nc: NatsConnection): number {
  const servers = nc.info?.connect_urls?.length ?? 0;
  return Math.max(1, Math.min(3, servers));
}

/** How long an init may wait for the worker loads that decide where it goes. */
const SPREAD_DECISION_MS = 2000;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Starts a worker: hosts runs whose log is on JetStream, one writer per run through KV leases,
 * serves the NATS commands, takes over runs whose worker died, continues runs across server
 * restarts. Resolves once it is serving.
 * @example const worker = await runWorker({ natsUrl: 'nats://127.0.0.1:4222', user: 'orchestrator', pass, root: 'workspaces' });
 */
export async function runWorker(options: WorkerOptions): Promise<WorkerHandle> {
  const workerId = options.workerId ?? defaultWorkerId();
  const nc = await connect({
    servers: options.natsUrl,
    user: options.user,
    pass: options.pass,
    name: `matterstack-worker-${workerId}`,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
  });
  try {
    return await Worker.start(nc, workerId, options);
  } catch (error) {
    await nc.close();
    throw error;
  }
}

class Worker implements CommandHandler, WorkerHandle {
  private readonly sessions = new Map<string, RunSession>();
  /** Runs this worker refused to host (HISTORY_DIVERGED), by the last sequence they had then: not taken again until their log moves. */
  private readonly refused = new Map<string, number>();
  private readonly timers: NodeJS.Timeout[] = [];
  private service: CommandService | undefined;
  /** Answers `status` off this event loop once its thread is ready; until then (or if it fails) this loop does. */
  private responder: StatusResponder | undefined;
  private scanning = false;
  private renewing = false;
  /** Inits being created here (not hosted yet). */
  private creating = 0;
  /** Inits being forwarded, by the worker they were sent to. */
  private readonly sentTo = new Map<string, number>();
  /** Runs the last scan saw without a lease, and in how many scans in a row. */
  private unleasedScans = new Map<string, number>();
  private stopping = false;
  private readonly log: FencedEventLog;
  private readonly logger: Logger;
  /** De-duplicates the commands appended for runs a `loop --nats` drives (they have no session here). */
  private readonly loopDedup: CommandDedup;

  private constructor(
    private readonly nc: NatsConnection,
    readonly workerId: string,
    private readonly options: WorkerOptions,
    private readonly jsLog: JetStreamEventLog,
    private readonly store: RunStore,
    fenced: FencedEventLog,
    private readonly leases: RunLeases,
    private readonly registry: RunRegistry,
    private readonly initDedup: InitDedup,
    private readonly slots: SharedSlots,
    private readonly presence: WorkerPresence,
  ) {
    this.log = fenced;
    this.logger = (options.logger ?? rootLogger()).child({ workerId });
    this.loopDedup = new CommandDedup(options.dedupWindowMs ?? DEFAULT_DEDUP_WINDOW_MS);
  }

  static async start(nc: NatsConnection, workerId: string, options: WorkerOptions): Promise<Worker> {
    const ttl = options.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
    const replicas = options.replicas ?? clusterReplicas(nc);
    const jsLog = await JetStreamEventLog.open(nc, { replicas, ...(options.stream !== undefined ? { stream: options.stream } : {}) }, false);
    let worker: Worker | undefined;
    const fenced = new FencedEventLog(jsLog, (runId, why) => worker?.onFenced(runId, why));
    const url = Array.isArray(options.natsUrl) ? (options.natsUrl[0] ?? 'nats') : options.natsUrl;
    const store = await RunStore.open({ root: options.root, natsUrl: url, log: fenced });
    const leases = await RunLeases.open(nc, { workerId, ttlMs: ttl, replicas });
    const registry = await RunRegistry.open(nc, undefined, replicas);
    const initDedup = await InitDedup.open(nc, options.dedupWindowMs ?? DEFAULT_DEDUP_WINDOW_MS, undefined, replicas);
    const logger = (options.logger ?? rootLogger()).child({ workerId });
    const slots = new SharedSlots(await KvSlotStore.open(nc, { replicas }), workerId, { leaseMs: options.slotLeaseMs ?? 3 * ttl, logger });
    const presence = await WorkerPresence.open(nc, { ttlMs: ttl, replicas });
    await presence.announce(workerId, 0);
    await presence.heard(workerId, ttl);
    worker = new Worker(nc, workerId, options, jsLog, store, fenced, leases, registry, initDedup, slots, presence);
    if (options.adoptLoggedRuns ?? true) await worker.adoptLoggedRuns();
    worker.startResponder(ttl, options.steppingNice ?? 0);
    worker.service = serveCommands(nc, {
      workerId,
      handler: worker,
      statusElsewhere: () => worker?.responder?.alive === true,
      onError: (err) => worker?.logger.error({ err }, 'command failed'),
    });
    worker.timers.push(setInterval(() => void worker?.renewLeases(), Math.max(200, Math.floor(ttl / 3))));
    worker.timers.push(setInterval(() => void worker?.scan(), options.scanIntervalMs ?? Math.max(250, Math.floor(ttl / 2))));
    void worker.watchConnection();
    await worker.scan();
    return worker;
  }

  /**
   * Starts the status thread in the background (never waited for); without it this loop answers
   * status as before. Once it is ready, this thread steps at `steppingNice` (see WorkerOptions).
   */
  private startResponder(leaseTtlMs: number, steppingNice: number): void {
    try {
      this.responder = startStatusResponder({
        servers: this.options.natsUrl,
        ...(this.options.user !== undefined ? { user: this.options.user } : {}),
        ...(this.options.pass !== undefined ? { pass: this.options.pass } : {}),
        workerId: this.workerId,
        projectionsFile: this.store.projectionsFile,
        leaseTtlMs,
        answer: (runId, payload, forwarded, principal) => this.command(runId, 'status', payload, forwarded, principal),
        logger: this.logger,
      });
      for (const runId of this.sessions.keys()) this.responder.hosted(runId);
      if (steppingNice > 0) void this.responder.ready.then((ready) => ready && this.lowerSteppingPriority(steppingNice));
    } catch (err) {
      this.logger.warn({ err }, 'status thread not started: status is answered on the run loop');
    }
  }

  /** Lowers this thread's CPU priority (Linux: per thread; it stays below the status thread's); a refusal is logged, not fatal. */
  private lowerSteppingPriority(nice: number): void {
    try {
      // 0: the calling thread (its own tid on Linux), not the status thread.
      setPriority(0, Math.max(getPriority(0), nice));
    } catch (err) {
      this.logger.warn({ err }, `run stepping not moved to nice ${nice}: it competes with the status thread for the CPU`);
    }
  }

  hostedRuns(): string[] {
    return [...this.sessions.keys()];
  }

  statusThreadReady(): Promise<boolean> {
    return this.responder?.ready ?? Promise.resolve(false);
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const timer of this.timers) clearInterval(timer);
    this.logger.info({ runs: this.sessions.size }, 'draining: no more runs or commands taken');
    await this.service?.stop();
    const sessions = [...this.sessions.values()];
    for (const session of sessions) session.abort.abort();
    await Promise.allSettled(sessions.map((s) => s.ended()));
    await this.responder?.stop();
    this.logger.info('draining: runs handed back (leases released)');
    await this.presence.leave(this.workerId).catch((err: unknown) => this.logger.warn({ err }, 'presence not withdrawn (it expires with its TTL)'));
    this.presence.close();
    await this.slots.close();
    await this.store.close();
    await this.jsLog.close();
    await this.nc.drain();
    this.logger.info('stopped');
  }

  // ---------- commands ----------

  async command(runId: string, verb: CommandVerb, payload: Record<string, unknown>, forwarded: boolean, principal: string | undefined): Promise<CommandReplyMessage | { forwardTo: string }> {
    // The payload was validated without a principal (a client cannot claim one): the subject proves it.
    const asked = principal !== undefined ? { ...payload, principal } : payload;
    const session = this.sessions.get(runId);
    if (session !== undefined && !session.closed) {
      if (isQuery(verb)) return this.answer(runId, verb, payload);
      return session.serialize(async () => (session.closed ? this.unhosted(runId, verb, asked, forwarded) : this.execute(session, verb, asked)));
    }
    return this.unhosted(runId, verb, asked, forwarded);
  }

  /** A command for a run this worker does not host: forward to its owner, or take the run over. */
  private async unhosted(runId: string, verb: CommandVerb, payload: Record<string, unknown>, forwarded: boolean): Promise<CommandReplyMessage | { forwardTo: string }> {
    if (isQuery(verb)) {
      // The owner answers (its projections are the freshest, its disk holds the logs); else anyone.
      const owner = forwarded ? undefined : await this.leases.owner(runId);
      if (owner !== undefined && owner !== this.workerId && !isCliHolder(owner)) return { forwardTo: owner };
      return this.answer(runId, verb, payload);
    }
    if ((await this.log.lastSeq(runId)) === 0) return rejected('RUN_NOT_FOUND', `run ${runId} not found`);
    for (let attempt = 0; attempt < 20 && !this.stopping; attempt++) {
      if (await this.leases.acquire(runId)) {
        const session = await this.host(runId, false);
        try {
          return await session.serialize(() => this.execute(session, verb, payload));
        } finally {
          session.start();
        }
      }
      const owner = await this.leases.owner(runId);
      // A CLI loop serves no commands: append for it, it follows the log's foreign appends.
      if (owner !== undefined && isCliHolder(owner)) return appendCommand(this.store, this.jsLog, this.loopDedup, runId, verb, payload);
      if (owner !== undefined && owner !== this.workerId) {
        if (forwarded) break;
        return { forwardTo: owner };
      }
      await sleep(50);
    }
    return rejected('LOG_UNAVAILABLE', `run ${runId} is moving between workers; retry the command`);
  }

  /** Executes a validated command on a run hosted here (in the session's command queue). */
  private async execute(session: RunSession, verb: CommandVerb, payload: Record<string, unknown>): Promise<CommandReplyMessage> {
    const { runId } = session;
    if (isQuery(verb)) return this.answer(runId, verb, payload);
    if (verb === 'step') return { accepted: true, seq: this.log.lastOwnSeq(runId) ?? (await this.log.lastSeq(runId)) };
    return appendCommand(this.store, this.log, session.dedup, runId, verb, payload);
  }

  /** Answers a read-only request (status, a piece of an attempt's log): nothing is appended. */
  private answer(runId: string, verb: 'status' | 'logs', payload: Record<string, unknown>): Promise<CommandReplyMessage> {
    if (verb === 'logs') return logsReply(this.store, runId, payload);
    return statusReply(this.store, this.slots, this.logger, runId, this.sessions.has(runId) ? this.log.lastOwnSeq(runId) : undefined);
  }

  /** The runs of the whole log, filtered and latest activity first, as `list` shows them. */
  list(payload: ListPayload): Promise<CommandReplyMessage> {
    return listReply(this.store, payload);
  }

  async init(payload: InitPayload, forward: InitForward | undefined): Promise<CommandReplyMessage> {
    const target = forward === undefined ? undefined : await this.spreadTarget();
    if (target !== undefined && forward !== undefined) {
      this.sentTo.set(target, (this.sentTo.get(target) ?? 0) + 1);
      try {
        return await forward(target);
      } catch (error) {
        if (error instanceof TimeoutError) return rejected('LOG_UNAVAILABLE', `worker ${target} did not answer the init in time; retry it with the same command id`);
        // Otherwise the chosen worker is gone (it died since it last said it was alive): the run is created here.
        if (!(error instanceof NoRespondersError)) return replyOfError(error);
      } finally {
        this.sentTo.set(target, (this.sentTo.get(target) ?? 1) - 1);
      }
    }
    this.creating += 1;
    void this.announce();
    try {
      return await this.create(payload);
    } finally {
      this.creating -= 1;
    }
  }

  /** Creates the run of an init here and hosts it (once per command id across workers). */
  private create(payload: InitPayload): Promise<CommandReplyMessage> {
    return this.initDedup.once(payload.commandId, async () => {
      const runId = payload.runId ?? newRunId();
      try {
        if ((await this.log.lastSeq(runId)) > 0) return rejected('RUN_EXISTS', `run ${runId} already exists`);
        if (!(await this.leases.acquire(runId))) return rejected('RUN_EXISTS', `run ${runId} is being created by another worker`);
      } catch (error) {
        return replyOfError(error);
      }
      try {
        await initializeRun({
          store: this.store,
          workspace: payload.workspace,
          runId,
          ...(payload.maxConcurrent !== undefined ? { maxConcurrent: payload.maxConcurrent } : {}),
        });
      } catch (error) {
        await this.leases.release(runId);
        return replyOfError(error);
      }
      const session = await this.host(runId, true, payload.workspace);
      return { accepted: true, seq: this.log.lastOwnSeq(session.runId) ?? (await this.log.lastSeq(runId)), runId };
    });
  }

  // ---------- hosting ----------

  /** Runs hosted here, counting those being created. */
  private load(): number {
    return this.sessions.size + this.creating;
  }

  /**
   * The worker a new run should go to when this one hosts its share already (undefined: host it
   * here). The inits this worker is sending count for their targets already, so a burst of
   * inits does not all go to the one worker the presence bucket shows least loaded.
   */
  private async spreadTarget(): Promise<string | undefined> {
    try {
      // Spreading must never hold an init up: loads not read within the limit leave the run here.
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), SPREAD_DECISION_MS)));
      const read = await Promise.race([Promise.all([this.registry.list(), this.presence.loads()]), late]).finally(() => clearTimeout(timer));
      if (read === undefined) {
        this.logger.warn({ ms: SPREAD_DECISION_MS }, 'worker loads not read in time: the new run is hosted here');
        return undefined;
      }
      const [runs, loads] = read;
      let sending = 0;
      const seen = new Map(loads);
      for (const [workerId, count] of this.sentTo) {
        sending += count;
        if (seen.has(workerId)) seen.set(workerId, (seen.get(workerId) ?? 0) + count);
      }
      return initTarget(this.workerId, this.load(), runs.length + this.creating + sending, seen);
    } catch (error) {
      this.logger.warn({ err: error }, 'worker loads unreadable: the new run is hosted here');
      return undefined;
    }
  }

  /** Tells the other workers how many runs this one hosts (they spread new runs by it). */
  private async announce(): Promise<void> {
    if (this.stopping) return;
    await this.presence.announce(this.workerId, this.load()).catch((err: unknown) => this.logger.warn({ err }, 'presence not renewed'));
  }

  /** Starts hosting `runId`, whose lease this worker has just acquired. */
  private async host(runId: string, start: boolean, workspace?: string): Promise<RunSession> {
    this.log.unfence(runId);
    const session = new RunSession(runId, {
      store: this.store,
      log: this.log,
      natsUrl: Array.isArray(this.options.natsUrl) ? (this.options.natsUrl[0] ?? 'nats') : this.options.natsUrl,
      ...(this.options.operators ? { operators: this.options.operators } : {}),
      driver: `worker ${this.workerId}`,
      slots: this.slots,
      dedupWindowMs: this.options.dedupWindowMs ?? DEFAULT_DEDUP_WINDOW_MS,
      logger: this.logger,
      onEnd: (s, why) => this.onSessionEnd(s, why),
    });
    this.sessions.set(runId, session);
    this.responder?.hosted(runId);
    await this.announce();
    try {
      let lastSeq = 0;
      let runWorkspace = workspace;
      const now = Date.now();
      for await (const record of this.log.readRun(runId)) {
        lastSeq = record.seq;
        if (record.type === 'RUN.CREATED' && runWorkspace === undefined) runWorkspace = String((record.payload as { workspace?: unknown }).workspace ?? '');
        const commandId = (record.payload as { commandId?: unknown }).commandId;
        if (record.type.startsWith('CMD.') && typeof commandId === 'string') {
          const reply = replyOfRecord(record);
          if (reply !== undefined) session.dedup.remember(commandId, reply, Date.parse(record.time), now);
        }
      }
      this.log.adoptTail(runId, lastSeq);
      await this.registry.put(runId, { workspace: runWorkspace ?? '' });
    } catch (error) {
      this.logger.error({ runId, err: error }, 'could not start hosting the run');
    }
    this.logger.info({ runId }, 'hosting run');
    if (start) session.start();
    return session;
  }

  private async onSessionEnd(session: RunSession, why: SessionEnd): Promise<void> {
    if (this.sessions.get(session.runId) === session) {
      this.sessions.delete(session.runId);
      this.responder?.dropped(session.runId);
    }
    void this.announce();
    this.logger.info({ runId: session.runId, why }, 'run session ended');
    try {
      if (why === 'finished') await this.registry.remove(session.runId);
      if (why === 'refused') this.refused.set(session.runId, await this.log.lastSeq(session.runId));
    } catch (error) {
      this.logger.error({ runId: session.runId, err: error }, 'could not remove the finished run from the registry');
    }
    await this.leases.release(session.runId);
  }

  /** After a reconnect, hosts may wait forever on consumers of the old connection: restore them. */
  private async watchConnection(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (this.stopping) return;
      if (status.type === 'reconnect') {
        this.logger.warn('reconnected: restoring hosted runs from the log');
        for (const session of this.sessions.values()) session.kick();
      }
    }
  }

  private onFenced(runId: string, why: string): void {
    this.logger.warn({ runId, why }, 'ownership lost');
    this.sessions.get(runId)?.abort.abort();
  }

  private async renewLeases(): Promise<void> {
    void this.announce();
    // One round at a time: a round still running when the next tick comes (a busy loop, a slow
    // server) would renew at the revision the first round is replacing and lose its own lease.
    if (this.renewing) return;
    this.renewing = true;
    try {
      await this.renewRound();
    } finally {
      this.renewing = false;
    }
  }

  private async renewRound(): Promise<void> {
    // All at once: one after the other, a worker hosting many runs on a replicated bucket took longer than the TTL.
    await Promise.all(
      this.leases.held().map(async (runId) => {
        if (this.stopping) return;
        const outcome = await this.leases.renew(runId, { retakeLapsed: true });
        if (outcome === 'lost') this.log.fence(runId, 'lease lost');
        if (outcome === 'retaken') this.logger.warn({ runId }, 'lease renewed late (it had expired; nobody had taken the run): kept');
      }),
    );
  }

  /** True for a run this worker refused whose log has not moved since (restoring it would refuse again). */
  private async stillRefused(runId: string): Promise<boolean> {
    const at = this.refused.get(runId);
    if (at === undefined) return false;
    if ((await this.log.lastSeq(runId)) === at) return true;
    this.refused.delete(runId);
    return false;
  }

  /** Takes over registered runs that nobody holds a lease on. */
  private async scan(): Promise<void> {
    if (this.scanning || this.stopping) return;
    this.scanning = true;
    try {
      const [ids, loads] = await Promise.all([this.registry.list(), this.presence.loads()]);
      const seenBefore = this.unleasedScans;
      this.unleasedScans = new Map();
      // Shuffled, so that several workers taking over a dead one's runs share them.
      for (let i = ids.length - 1; i > 0; i--) {
        const j = Math.floor(Math.random() * (i + 1));
        [ids[i], ids[j]] = [ids[j] as string, ids[i] as string];
      }
      for (const runId of ids) {
        if (this.stopping) return;
        if (this.sessions.has(runId)) continue;
        if (await this.stillRefused(runId)) continue;
        if ((await this.leases.owner(runId)) !== undefined) continue;
        // Spread: within its share, or an orphan the others have left for a scan or more.
        const unleasedScans = (seenBefore.get(runId) ?? 0) + 1;
        this.unleasedScans.set(runId, unleasedScans);
        if (!mayTakeRun({ self: this.workerId, hosted: this.load(), runs: ids.length, loads, unleasedScans })) continue;
        if (await this.leases.acquire(runId)) await this.host(runId, true);
      }
    } catch (error) {
      this.logger.error({ err: error }, 'scan for unhosted runs failed');
    } finally {
      this.scanning = false;
    }
  }

  /** Registers the active runs of the log the registry does not know (runs created without a worker). */
  private async adoptLoggedRuns(): Promise<void> {
    const known = new Set(await this.registry.list());
    for (const { runId } of await this.log.listRuns()) {
      if (known.has(runId)) continue;
      try {
        const host = await RunHost.restore(this.log, runId);
        const status = host.status;
        if (status === undefined || TERMINAL_RUN_STATUSES.includes(status)) continue;
        await this.registry.put(runId, { workspace: host.state.run?.context.workspace ?? '' });
      } catch (error) {
        this.logger.warn({ runId, err: error }, 'run not adopted');
      }
    }
  }
}
