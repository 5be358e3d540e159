import { Worker } from 'node:worker_threads';
import type { Logger } from '../events/logger.ts';
import { replyOfError } from './command-service.ts';
import type { FromStatusThread, StatusOutcome, StatusThreadConfig, ToStatusThread } from './status-protocol.ts';

/** How long the thread may take to drain its connection when stopped. */
const STOP_GRACE_MS = 5000;
/** How long `terminate()` is awaited: a thread stuck in native code must not hold the worker's shutdown. */
const TERMINATE_WAIT_MS = 2000;

/** Options of `startStatusResponder`. */
export interface StatusResponderOptions extends StatusThreadConfig {
  /** The worker's own status path (its `command(runId, 'status', …)`), for what the thread leaves to it. */
  answer: (runId: string, payload: Record<string, unknown>, forwarded: boolean, principal: string | undefined) => Promise<StatusOutcome>;
  logger: Logger;
  /** How long the thread may take to load, connect and subscribe before it is given up (terminated). */
  readyTimeoutMs?: number;
}

/** A worker's status thread: told which runs the worker hosts; `stop()` ends it. */
export interface StatusResponder {
  /** True while the thread answers status requests: from its `ready` until it exits. Else the worker answers them itself. */
  readonly alive: boolean;
  /** Settles when the thread is ready (true) or given up (false: it failed, exited, timed out or was stopped first). */
  readonly ready: Promise<boolean>;
  /** The worker hosts `runId` now: the thread answers its status. */
  hosted(runId: string): void;
  /** The worker hosts `runId` no more. */
  dropped(runId: string): void;
  /** Ends the thread (after its connection drained, or a grace period; at once while it is still starting). */
  stop(): Promise<void>;
}

/** Resolves after `ms` unless `promise` settles first; never rejects. */
async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  // Only the wait is bounded here: what became of the promise is the caller's business (exit, terminate).
  await Promise.race([promise.catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/**
 * Starts the thread that answers `status` requests for a worker (distributed/status-thread.ts) in
 * the background and returns at once: until the thread says it is ready, and for good if it fails,
 * exits or is not ready within `readyTimeoutMs`, `alive` is false and the worker answers status
 * itself. A thread given up is logged and terminated; it never throws to the worker.
 */
export function startStatusResponder(options: StatusResponderOptions): StatusResponder {
  const { answer, logger, readyTimeoutMs = 30_000, ...config } = options;
  const data = { ...config, entry: new URL('./status-thread.ts', import.meta.url).href };
  // No inherited flags: the boot file registers the TypeScript loader the thread needs.
  const thread = new Worker(new URL('../campaign/campaign-worker-boot.mjs', import.meta.url), { execArgv: [], workerData: data });
  // The worker's own connection and timers keep its process alive; a thread left behind must not.
  thread.unref();
  /** Runs hosted now: sent to the thread once it is ready (messages before would wait unread in its port). */
  const hostedRuns = new Set<string>();
  let state: 'starting' | 'ready' | 'gone' = 'starting';
  let settle!: (ready: boolean) => void;
  const ready = new Promise<boolean>((resolve) => (settle = resolve));
  const send = (message: ToStatusThread): void => thread.postMessage(message);
  const exited = new Promise<void>((resolve) => thread.once('exit', () => resolve()));

  const readyTimer = setTimeout(() => giveUp(`not ready within ${readyTimeoutMs} ms`), readyTimeoutMs).unref();
  /** Gives the thread up (the worker answers status itself from now on) and terminates it. */
  const giveUp = (why: string, err?: unknown): void => {
    if (state === 'gone') return;
    const wasReady = state === 'ready';
    state = 'gone';
    clearTimeout(readyTimer);
    settle(false);
    if (wasReady) logger.error({ err }, `status thread lost (${why}): status is answered on the run loop`);
    else logger.warn({ err }, `status thread not started (${why}): status is answered on the run loop`);
    void within(thread.terminate(), TERMINATE_WAIT_MS);
  };
  thread.on('error', (err) => giveUp('it threw', err));
  void exited.then(() => giveUp('it exited'));
  thread.on('message', (message: FromStatusThread) => {
    if (message.type === 'ready') {
      if (state !== 'starting') return;
      state = 'ready';
      clearTimeout(readyTimer);
      for (const runId of hostedRuns) send({ type: 'hosted', runId });
      settle(true);
    } else if (message.type === 'failed') giveUp(`it failed: ${message.reason}`);
    else if (message.type === 'warn') logger.warn({ runId: message.runId }, message.message);
    else {
      const { id } = message;
      answer(message.runId, message.payload, message.forwarded, message.principal).then(
        (outcome) => send({ type: 'answer', id, outcome }),
        (error: unknown) => send({ type: 'answer', id, outcome: replyOfError(error) }),
      );
    }
  });

  return {
    get alive() {
      return state === 'ready';
    },
    ready,
    hosted(runId) {
      hostedRuns.add(runId);
      if (state === 'ready') send({ type: 'hosted', runId });
    },
    dropped(runId) {
      hostedRuns.delete(runId);
      if (state === 'ready') send({ type: 'dropped', runId });
    },
    async stop() {
      const wasReady = state === 'ready';
      clearTimeout(readyTimer);
      state = 'gone';
      settle(false);
      if (wasReady) {
        send({ type: 'stop' });
        // A drain stuck on a server that went away must not hold the worker's shutdown.
        await within(exited, STOP_GRACE_MS);
      }
      await within(thread.terminate(), TERMINATE_WAIT_MS);
    },
  };
}
