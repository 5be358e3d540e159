import { Worker } from 'node:worker_threads';
import type { Logger } from '../events/logger.ts';
import { replyOfError } from './command-service.ts';
import type { FromStatusThread, StatusOutcome, StatusThreadConfig, ToStatusThread } from './status-protocol.ts';

/** How long the thread may take to drain its connection when stopped. */
const STOP_GRACE_MS = 5000;

/** Options of `startStatusResponder`. */
export interface StatusResponderOptions extends StatusThreadConfig {
  /** The worker's own status path (its `command(runId, 'status', …)`), for what the thread leaves to it. */
  answer: (runId: string, payload: Record<string, unknown>, forwarded: boolean, principal: string | undefined) => Promise<StatusOutcome>;
  logger: Logger;
  /** How long the thread may take to connect and subscribe. */
  readyTimeoutMs?: number;
}

/** A worker's status thread: told which runs the worker hosts; `stop()` ends it. */
export interface StatusResponder {
  /** False once the thread has exited: the worker answers status requests itself again. */
  readonly alive: boolean;
  /** The worker hosts `runId` now: the thread answers its status. */
  hosted(runId: string): void;
  /** The worker hosts `runId` no more. */
  dropped(runId: string): void;
  /** Ends the thread (after its connection drained, or a grace period). */
  stop(): Promise<void>;
}

/**
 * Starts the thread that answers `status` requests for a worker (distributed/status-thread.ts) and
 * resolves once it has subscribed; throws when it could not (the worker then answers them itself).
 */
export async function startStatusResponder(options: StatusResponderOptions): Promise<StatusResponder> {
  const { answer, logger, readyTimeoutMs = 30_000, ...config } = options;
  const data = { ...config, entry: new URL('./status-thread.ts', import.meta.url).href };
  // No inherited flags: the boot file registers the TypeScript loader the thread needs.
  const thread = new Worker(new URL('../campaign/campaign-worker-boot.mjs', import.meta.url), { execArgv: [], workerData: data });
  const send = (message: ToStatusThread): void => thread.postMessage(message);
  const exited = new Promise<void>((resolve) => thread.once('exit', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`status thread not ready within ${readyTimeoutMs} ms`)), readyTimeoutMs);
    thread.once('error', (error) => reject(error));
    void exited.then(() => reject(new Error('status thread exited before it was ready')));
    thread.on('message', (message: FromStatusThread) => {
      if (message.type === 'ready') {
        clearTimeout(timer);
        resolve();
      } else if (message.type === 'failed') reject(new Error(`status thread failed: ${message.reason}`));
      else if (message.type === 'warn') logger.warn({ runId: message.runId }, message.message);
      else {
        const { id } = message;
        answer(message.runId, message.payload, message.forwarded, message.principal).then(
          (outcome) => send({ type: 'answer', id, outcome }),
          (error: unknown) => send({ type: 'answer', id, outcome: replyOfError(error) }),
        );
      }
    });
  });
  try {
    await ready;
  } catch (error) {
    await thread.terminate();
    throw error;
  }
  let alive = true;
  void exited.then(() => (alive = false));
  thread.on('error', (err) => logger.error({ err }, 'status thread failed: the worker answers status requests itself'));
  return {
    get alive() {
      return alive;
    },
    hosted: (runId) => send({ type: 'hosted', runId }),
    dropped: (runId) => send({ type: 'dropped', runId }),
    async stop() {
      send({ type: 'stop' });
      // A drain stuck on a server that went away must not hold the worker's shutdown.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, STOP_GRACE_MS)))]);
      clearTimeout(timer);
      await thread.terminate();
    },
  };
}
