import type { CommandReplyMessage } from '../events/command-messages.ts';

/** What a worker passes its status thread (workerData, besides the boot file's `entry`). */
export interface StatusThreadConfig {
  servers: string | string[];
  user?: string;
  pass?: string;
  workerId: string;
  /** The worker's projections file (the runs it hosts are folded there as they go). */
  projectionsFile: string;
  /** The lease TTL: a lease entry older than this has expired. */
  leaseTtlMs: number;
}

/** The worker's answer to a status request: the reply, or the worker owning the run. */
export type StatusOutcome = CommandReplyMessage | { forwardTo: string };

/** Worker → thread. */
export type ToStatusThread =
  | { type: 'hosted'; runId: string }
  | { type: 'dropped'; runId: string }
  | { type: 'answer'; id: number; outcome: StatusOutcome }
  | { type: 'stop' };

/** Thread → worker: ready, a request it leaves to the worker's own path, a failure to log. */
export type FromStatusThread =
  | { type: 'ready' }
  | { type: 'ask'; id: number; runId: string; payload: Record<string, unknown>; forwarded: boolean; principal: string | undefined }
  | { type: 'warn'; runId?: string; message: string }
  | { type: 'failed'; reason: string };
