// What a worker answers from its projections (status, a piece of an attempt's log, the list of
// runs) and how it appends a command for a run: free of the worker's hosting state.
import { LogsPayloadSchema, toRunCommand, type CommandReplyMessage, type CommandVerb, type ListPayload } from '../events/command-messages.ts';
import type { EventLog } from '../events/event-log.ts';
import type { Logger } from '../events/logger.ts';
import { RunHost } from '../host/run-host.ts';
import type { RunStore } from '../host/run-store.ts';
import type { SharedSlots } from '../host/shared-slots.ts';
import { getRunStatus, listRuns } from '../projections/queries.ts';
import { readAttemptLog } from '../views/attempt-logs.ts';
import { withSharedSlotWaits } from '../views/shared-slot-wait.ts';
import { replyOfRecord, type CommandDedup } from './command-dedup.ts';
import { rejected, replyOfError } from './command-service.ts';

/** Requests that read and never append: answered by the run's owner, or by any worker when nobody hosts it. */
export function isQuery(verb: CommandVerb): verb is 'status' | 'logs' {
  return verb === 'status' || verb === 'logs';
}

/**
 * The run's status with the tasks waiting in line for a shared slot; `ownSeq` is the last seq
 * this worker appended to the run when it hosts it (the projections are caught up to it first).
 */
export async function statusReply(store: RunStore, slots: SharedSlots, logger: Logger, runId: string, ownSeq: number | undefined): Promise<CommandReplyMessage> {
  // Hosted here: the projections are caught up after every append, unless one is in flight.
  if (ownSeq === undefined || store.projector.lastSeq(runId) < ownSeq) await store.project();
  const view = getRunStatus(store.projector.db, runId, { withState: true });
  if (view === undefined) return rejected('RUN_NOT_FOUND', `run ${runId} not found`);
  // Tasks in line for a slot other runs hold say so (the slots are shared by every worker).
  const withWaits = await withSharedSlotWaits(view, (operatorKey) => slots.read(operatorKey)).catch((err: unknown) => {
    logger.warn({ runId, err }, 'shared slots unreadable: the status says nothing of tasks in line for one');
    return view;
  });
  return { accepted: true, seq: view.lastSeq, status: { ...withWaits } };
}

/** A piece of an attempt's log (`logs`), base64 in the reply. */
export async function logsReply(store: RunStore, runId: string, payload: Record<string, unknown>): Promise<CommandReplyMessage> {
  try {
    // The principal the subject proved is for the audit trail of commands; a read records nothing.
    const { principal: _principal, ...request } = payload;
    const chunk = await readAttemptLog(store, runId, LogsPayloadSchema.parse(request));
    const seq = store.projector.lastSeq(runId);
    return { accepted: true, seq, log: { ...chunk, data: chunk.data.toString('base64') } };
  } catch (error) {
    return replyOfError(error);
  }
}

/** The runs of the whole log, filtered and latest activity first, as `list` shows them. */
export async function listReply(store: RunStore, payload: ListPayload): Promise<CommandReplyMessage> {
  try {
    await store.project();
    const runs = listRuns(store.projector.db, {
      all: payload.all,
      order: 'activity',
      ...(payload.statuses !== undefined ? { statuses: payload.statuses } : {}),
      ...(payload.workspace !== undefined ? { workspace: payload.workspace } : {}),
      ...(payload.since !== undefined ? { since: new Date(payload.since) } : {}),
    });
    return { accepted: true, seq: 0, runs: runs.map((run) => ({ ...run })) };
  } catch (error) {
    return replyOfError(error);
  }
}

/**
 * Appends a validated command through a command-only host (no effects): the run's live host
 * (a session of a worker, or a `loop --nats`) picks the record up and runs what it owes.
 */
export async function appendCommand(store: RunStore, log: EventLog, dedup: CommandDedup, runId: string, verb: CommandVerb, payload: Record<string, unknown>): Promise<CommandReplyMessage> {
  if (verb === 'step') return { accepted: true, seq: await log.lastSeq(runId) };
  const command = toRunCommand(verb, payload, typeof payload.principal === 'string' ? payload.principal : undefined);
  if (command === undefined) return rejected('VALIDATION_FAILED', `unknown command ${verb}`);
  const commandId = typeof payload.commandId === 'string' ? payload.commandId : undefined;
  return dedup.once(commandId, async () => {
    try {
      const host = await RunHost.restore(log, runId);
      const { appended } = await host.deliver({ actor: 'run', event: command });
      await store.project();
      const record = appended.find((r) => r.actor === 'run' && r.type === command.type);
      return (record && replyOfRecord(record)) ?? rejected('COMMAND_REJECTED', `${command.type} changed nothing`);
    } catch (error) {
      return replyOfError(error);
    }
  });
}
