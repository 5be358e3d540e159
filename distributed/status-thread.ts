// The status responder's thread (started by distributed/status-responder.ts): answers `status`
// for the runs its worker hosts from the projections their sessions keep, on an event loop that
// steps no run. On the worker's own loop the reply waited behind the stepping (issue #19: p99 ~2 s).
// What it cannot answer from there (a run not hosted here) goes to the owner's thread, or to the
// worker's own path, which is unchanged.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { connect, NoRespondersError, type Msg, type Subscription } from '@nats-io/transport-node';
import type { CommandReplyMessage } from '../events/command-messages.ts';
import { errorMessage } from '../events/errors.ts';
import { AUTHENTICATED_SUBJECT_PREFIX, COMMAND_SUBJECT_PREFIX, parseCommandSubject } from '../events/subjects.ts';
import { getRunStatus } from '../projections/queries.ts';
import { withSharedSlotWaits } from '../views/shared-slot-wait.ts';
import { parseRunCommand, rejected } from './command-request.ts';
import { forwardSubject, replyOfError } from './command-service.ts';
import { emptySlotDoc } from '../host/slot-semaphore.ts';
import { storeKey } from '../host/shared-slots.ts';
import { SLOTS_BUCKET, slotDocOfEntry } from './kv-slot-store.ts';
import { holderOfEntry, isCliHolder, LEASES_BUCKET } from './run-leases.ts';
import { WatchedBucket } from './watched-bucket.ts';
import type { FromStatusThread, StatusOutcome, StatusThreadConfig, ToStatusThread } from './status-protocol.ts';

/** Its own queue group: every worker's command service sees the request too, and leaves it to this one. */
const STATUS_QUEUE = 'matterstack-status';
/** As long as a forwarded command may take at the owner (command-service's default). */
const FORWARD_TIMEOUT_MS = 30_000;
/** How long each step of the start may take (connect, open a watch, flush): a step past it fails the thread, named. */
const STEP_TIMEOUT_MS = 10_000;

const port = parentPort;
if (port === null) throw new Error('status-thread.ts runs as a worker thread (distributed/status-responder.ts starts it)');
const config = workerData as StatusThreadConfig;
const encoder = new TextEncoder();
const post = (message: FromStatusThread): void => port.postMessage(message);

const hosted = new Set<string>();
const asked = new Map<number, (outcome: StatusOutcome) => void>();
let nextId = 0;

/** `promise`, or a rejection naming `what` once it has taken STEP_TIMEOUT_MS: a start step never waits forever. */
async function step<T>(what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${STEP_TIMEOUT_MS} ms`)), STEP_TIMEOUT_MS)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

try {
  const nc = await step(
    'connect',
    connect({ servers: config.servers, user: config.user, pass: config.pass, name: `matterstack-status-${config.workerId}`, timeout: STEP_TIMEOUT_MS, maxReconnectAttempts: -1, reconnectTimeWait: 250 }),
  );
  // The worker created the file (RunStore.open) before it started this thread.
  const db = new Database(config.projectionsFile, { readonly: true, fileMustExist: true });
  db.pragma('busy_timeout = 10000');
  const slots = await step(`watch ${SLOTS_BUCKET}`, WatchedBucket.open(nc, SLOTS_BUCKET));
  const leases = await step(`watch ${LEASES_BUCKET}`, WatchedBucket.open(nc, LEASES_BUCKET));

  /** The worker holding `runId` as the watch saw it; undefined when unknown or older than a lease lives (the worker looks it up). */
  const ownerOf = (runId: string): string | undefined => {
    const entry = leases.get(runId);
    return entry === undefined || Date.now() - entry.created.getTime() > config.leaseTtlMs ? undefined : holderOfEntry(entry);
  };

  /** The worker's own path (worker.ts `command`): for runs not hosted here, or not projected yet. */
  const ask = (runId: string, payload: Record<string, unknown>, forwarded: boolean, principal: string | undefined): Promise<StatusOutcome> =>
    new Promise((resolve) => {
      const id = nextId++;
      asked.set(id, resolve);
      post({ type: 'ask', id, runId, payload, forwarded, principal });
    });

  /** The status of a run hosted here, as worker.ts `statusReply` builds it, from what the projections and the watched slots hold now. */
  const fromProjections = async (runId: string): Promise<CommandReplyMessage | undefined> => {
    const view = getRunStatus(db, runId, { withState: true });
    if (view === undefined) return undefined;
    const withWaits = await withSharedSlotWaits(view, (operatorKey) => {
      const entry = slots.get(storeKey(operatorKey));
      return entry === undefined ? emptySlotDoc() : slotDocOfEntry(entry);
    }).catch((error: unknown) => {
      post({ type: 'warn', runId, message: `shared slots unreadable: the status says nothing of tasks in line for one (${errorMessage(error)})` });
      return view;
    });
    return { accepted: true, seq: view.lastSeq, status: { ...withWaits } };
  };

  const answer = async (msg: Msg, forwarded: boolean): Promise<CommandReplyMessage | Uint8Array> => {
    // A forwarded request's subject is `ms.wrk.<workerId>.` + the subject it was sent on.
    const subject = forwarded ? msg.subject.split('.').slice(3).join('.') : msg.subject;
    const command = parseCommandSubject(subject);
    if (command?.runId === undefined) return rejected('VALIDATION_FAILED', `not a status subject: ${msg.subject}`);
    const parsed = parseRunCommand(msg.data, command.runId, command.verb, command.principal);
    if (!parsed.ok) return parsed.reply;
    const { runId } = command;
    const toOwner = async (owner: string): Promise<Uint8Array> => (await nc.request(forwardSubject(owner, subject), msg.data, { timeout: FORWARD_TIMEOUT_MS })).data;
    if (hosted.has(runId)) {
      const reply = await fromProjections(runId);
      if (reply !== undefined) return reply;
    } else if (!forwarded) {
      const owner = ownerOf(runId);
      // A watched lease may name a worker gone since: then the worker's own path looks the owner up.
      if (owner !== undefined && owner !== config.workerId && !isCliHolder(owner)) {
        const answered = await toOwner(owner).catch((error: unknown) => {
          if (error instanceof NoRespondersError) return undefined;
          throw error;
        });
        if (answered !== undefined) return answered;
      }
    }
    const outcome = await ask(runId, parsed.payload, forwarded, command.principal);
    return 'forwardTo' in outcome ? toOwner(outcome.forwardTo) : outcome;
  };

  const serve = (msg: Msg, forwarded: boolean): void => {
    answer(msg, forwarded).then(
      (reply) => msg.respond(reply instanceof Uint8Array ? reply : encoder.encode(JSON.stringify(reply))),
      (error: unknown) => msg.respond(encoder.encode(JSON.stringify(replyOfError(error)))),
    );
  };
  /** Hosted runs with subscriptions of their own that the server has (flushed): the queue member leaves their requests to those. */
  const routed = new Set<string>();
  const take = (via: 'queue' | 'run' | 'forward') => (error: Error | null, msg: Msg): void => {
    if (error) post({ type: 'warn', message: `status subscription: ${errorMessage(error)}` });
    else if (msg.reply && !(via === 'queue' && routed.has(parseCommandSubject(msg.subject)?.runId ?? ''))) serve(msg, via === 'forward');
  };
  for (const prefix of [COMMAND_SUBJECT_PREFIX, `${AUTHENTICATED_SUBJECT_PREFIX}.*.cmd`]) {
    nc.subscribe(`${prefix}.*.status`, { queue: STATUS_QUEUE, callback: take('queue') });
    nc.subscribe(forwardSubject(config.workerId, `${prefix}.*.status`), { callback: take('forward') });
  }

  /**
   * Each hosted run's status subjects, subscribed here without a queue: a request reaches the
   * owner's thread straight instead of a queue member that forwards it (one hop through the cluster
   * fewer). The queue member still forwards what it gets for a run hosted elsewhere: the first of
   * the two replies is the one the caller takes, and a run whose own route is not there yet (or
   * any more) is still answered.
   */
  const ownRoutes = new Map<string, Subscription[]>();
  const routeStraight = (runId: string): void => {
    if (ownRoutes.has(runId)) return;
    const subscriptions = [COMMAND_SUBJECT_PREFIX, `${AUTHENTICATED_SUBJECT_PREFIX}.*.cmd`].map((prefix) => nc.subscribe(`${prefix}.${runId}.status`, { callback: take('run') }));
    ownRoutes.set(runId, subscriptions);
    nc.flush().then(
      () => ownRoutes.get(runId) === subscriptions && routed.add(runId),
      (error: unknown) => post({ type: 'warn', runId, message: `status route of the run not confirmed: its requests go through the queue (${errorMessage(error)})` }),
    );
  };
  const unroute = (runId: string): void => {
    routed.delete(runId);
    for (const subscription of ownRoutes.get(runId) ?? []) subscription.unsubscribe();
    ownRoutes.delete(runId);
  };

  port.on('message', (message: ToStatusThread) => {
    if (message.type === 'hosted') {
      hosted.add(message.runId);
      routeStraight(message.runId);
    } else if (message.type === 'dropped') {
      hosted.delete(message.runId);
      unroute(message.runId);
    }
    else if (message.type === 'answer') {
      asked.get(message.id)?.(message.outcome);
      asked.delete(message.id);
    } else {
      // Drained, the connection takes no more requests; once it is closed nothing keeps the thread alive.
      void nc
        .drain()
        .catch((error: unknown) => post({ type: 'warn', message: `status connection not drained: ${errorMessage(error)}` }))
        .finally(() => {
          db.close();
          port.close();
        });
    }
  });
  // A flush waits for the server's PONG: unbounded while the connection is down and reconnecting.
  await step('flush', nc.flush());
  post({ type: 'ready' });
} catch (error) {
  // The worker terminates the thread on this message (a connection opened above would keep it alive).
  post({ type: 'failed', reason: errorMessage(error) });
  port.close();
}
