import type { NatsConnection } from '@nats-io/transport-node';
import type { LogChunk, LogRequest } from '../views/attempt-logs.ts';
import { MAX_LOG_CHUNK_BYTES } from '../events/command-messages.ts';
import { isMatterStackError, MatterStackError } from '../events/errors.ts';
import type { CommandContext } from './command.ts';
import { explainPermission, toCliReply, withNats } from './nats-session.ts';
import { natsTarget, type NatsTarget } from './nats-target.ts';
import { withStore } from './open-store.ts';

/** Reads one piece of an attempt's log (locally, or from the worker hosting the run). */
export type LogReader = (request: Omit<LogRequest, 'maxBytes'>) => Promise<LogChunk>;

/** A log request can scan a big log backwards for its last lines: longer than a command. */
const LOG_REQUEST_TIMEOUT_MS = 30_000;
/** Pieces over NATS: ~700 KB of base64 JSON, under the 1 MB default max_payload of a server. */
const NATS_CHUNK_BYTES = 512 * 1024;

function natsReader(nc: NatsConnection, target: NatsTarget, runId: string): LogReader {
  return async (request) => {
    const { requestCommand } = await import('../distributed/command-client.ts');
    const reply = await requestCommand(nc, runId, 'logs', { ...request, maxBytes: NATS_CHUNK_BYTES }, LOG_REQUEST_TIMEOUT_MS).catch((error: unknown) =>
      explainPermission(error, target, 'read logs'),
    );
    const mapped = toCliReply(reply, { allRejectionsThrow: true });
    if (!mapped.accepted) throw new MatterStackError('COMMAND_REJECTED', mapped.message);
    if (!reply.accepted || reply.log === undefined) throw new MatterStackError('INVALID_EVENT', `the worker answered logs of run ${runId} without a log`, { runId });
    const { data, attemptStatus, ...rest } = reply.log;
    return { ...rest, attemptStatus: attemptStatus as LogChunk['attemptStatus'], data: Buffer.from(data, 'base64') };
  };
}

async function withLocalReader<T>(ctx: CommandContext, runId: string, body: (read: LogReader) => Promise<T>): Promise<T> {
  const { readAttemptLog } = await import('../views/attempt-logs.ts');
  return withStore(ctx, (store) => body((request) => readAttemptLog(store, runId, { ...request, maxBytes: MAX_LOG_CHUNK_BYTES })));
}

/**
 * Runs `body` with a reader of run `runId`'s attempt logs: with --nats, the worker hosting the run
 * serves them (`ms.cmd.<run>.logs`, one connection for every piece); when no worker serves the
 * subject, the files are read here (as `status` does). Otherwise read here from the attempt folders.
 */
export async function withLogReader<T>(ctx: CommandContext, runId: string, body: (read: LogReader) => Promise<T>): Promise<T> {
  const target = natsTarget(ctx);
  if (target === undefined) return withLocalReader(ctx, runId, body);
  let served = false;
  try {
    return await withNats(target, (nc) => {
      const read = natsReader(nc, target, runId);
      return body(async (request) => {
        const chunk = await read(request);
        served = true;
        return chunk;
      });
    });
  } catch (error) {
    if (served || !isMatterStackError(error) || error.details.reason !== 'no-responders') throw error;
    return withLocalReader(ctx, runId, body);
  }
}
