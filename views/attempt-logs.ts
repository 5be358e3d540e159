import { MatterStackError } from '../events/errors.ts';
import type { AttemptStatus } from '../events/statuses.ts';
import { getRun, listAttempts, listTasks, type AttemptView } from '../projections/queries.ts';
import { loadOperatorsConfig } from '../workspace/operators-config.ts';
import { attemptLogSource, tailOffset, type AttemptLogFiles, type LogStream } from '../operators/attempt-log.ts';
import { TERMINAL_POLL_STATUSES } from '../operators/operator.ts';
import { OperatorRegistry } from '../operators/operator-registry.ts';
import type { RunStore } from '../host/run-store.ts';
import { attemptDirOf, resolveWorkspaceDir } from '../workspace/workspace.ts';

/** One read of an attempt's log: which attempt, which stream, from where (a byte offset, or the last N lines), how much. */
export interface LogRequest {
  taskId: string;
  /** Attempt number (1 = first) or attempt id; default: the latest attempt. */
  attempt?: number | string;
  stream: LogStream;
  /** Byte offset to read from (wins over `tailLines`); default: the start, or the last `tailLines` lines. */
  offset?: number;
  tailLines?: number;
  maxBytes: number;
}

/** A piece of an attempt's log, with what a client needs to ask for the next one. */
export interface LogChunk {
  attemptId: string;
  attemptNumber: number;
  attemptStatus: AttemptStatus;
  /** The attempt is over (its status was terminal before the log's size was read): nothing more will be written. */
  ended: boolean;
  stream: LogStream;
  /** Where the log is (a path, or the cluster and path while a remote job runs). */
  where: string;
  /** Size of the log when read; null when it does not exist (yet). */
  size: number | null;
  /** Offset of `data` in the log. */
  offset: number;
  data: Buffer;
}

/** Where an attempt's two streams are, as its operator keeps them; null when its operator runs no process. */
export type AttemptLogs = Record<LogStream, AttemptLogFiles> | null;

/** The log files of `attempt` through the operator that ran it (`registry` built from the run's workspace). */
export function logFilesOf(registry: OperatorRegistry, workspaceDir: string, runId: string, attempt: Pick<AttemptView, 'attemptId' | 'taskId' | 'operatorKey'>): AttemptLogs {
  const operator = registry.require(attempt.operatorKey).operator;
  if (operator.logFiles === undefined) return null;
  const ref = { runId, attempt: { attemptId: attempt.attemptId, taskId: attempt.taskId, dir: attemptDirOf(workspaceDir, runId, attempt.taskId, attempt.attemptId) } };
  return { stdout: operator.logFiles(ref, 'stdout'), stderr: operator.logFiles(ref, 'stderr') };
}

function pickAttempt(runId: string, taskId: string, attempts: AttemptView[], wanted: number | string | undefined): AttemptView {
  if (attempts.length === 0) throw new MatterStackError('ATTEMPT_NOT_FOUND', `task ${taskId} of run ${runId} has no attempt yet`, { runId, taskId });
  const found =
    wanted === undefined ? attempts.at(-1) : typeof wanted === 'number' ? attempts.find((a) => a.attemptNumber === wanted) : attempts.find((a) => a.attemptId === wanted);
  if (found !== undefined) return found;
  const known = attempts.map((a) => `${a.attemptNumber} (${a.attemptId})`).join(', ');
  throw new MatterStackError('ATTEMPT_NOT_FOUND', `task ${taskId} of run ${runId} has no attempt ${wanted} (it has ${known})`, { runId, taskId, attempt: wanted });
}

/**
 * Reads one piece of an attempt's stdout or stderr, at most `maxBytes`: never the whole log
 * at once, so a client streams a log of any size by asking again from `offset + data.length`.
 */
export async function readAttemptLog(store: RunStore, runId: string, request: LogRequest): Promise<LogChunk> {
  const db = await store.views();
  const run = getRun(db, runId);
  if (run === undefined) throw new MatterStackError('RUN_NOT_FOUND', `run ${runId} not found`, { runId });
  const { taskId } = request;
  if (!listTasks(db, runId).some((t) => t.id === taskId)) throw new MatterStackError('TASK_NOT_FOUND', `task ${taskId} not found in run ${runId}`, { runId, taskId });
  const attempt = pickAttempt(runId, taskId, listAttempts(db, runId, taskId), request.attempt);
  const workspaceDir = resolveWorkspaceDir(store.root, run.workspace ?? '');
  const files = logFilesOf(OperatorRegistry.fromConfig(loadOperatorsConfig({ workspaceDir })), workspaceDir, runId, attempt);
  if (files === null) {
    throw new MatterStackError('VALIDATION_FAILED', `task ${taskId} runs on operator ${attempt.operatorKey}, which keeps no stdout or stderr (it runs no process)`, {
      runId,
      taskId,
      operatorKey: attempt.operatorKey,
    });
  }
  const ended = TERMINAL_POLL_STATUSES.includes(attempt.status);
  const source = await attemptLogSource(files[request.stream], ended);
  const base = { attemptId: attempt.attemptId, attemptNumber: attempt.attemptNumber, attemptStatus: attempt.status, ended, stream: request.stream, where: source.where };
  const size = await source.size();
  if (size === null) return { ...base, size, offset: 0, data: Buffer.alloc(0) };
  const from = Math.min(size, request.offset ?? (request.tailLines !== undefined ? await tailOffset(source, size, request.tailLines) : 0));
  const data = from < size ? await source.read(from, Math.min(request.maxBytes, size - from)) : Buffer.alloc(0);
  return { ...base, size, offset: from, data };
}
