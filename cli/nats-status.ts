import { z } from 'zod';
import { MatterStackError } from '../events/errors.ts';
import type { RunStatusView } from '../projections/queries.ts';
import { natsRunRequest } from './nats-session.ts';
import type { NatsTarget } from './nats-target.ts';

// Enough of the view to print it; the rest travels as the worker's projections wrote it.
const StatusViewSchema = z.looseObject({
  runId: z.string(),
  status: z.string(),
  tasks: z.array(z.looseObject({ id: z.string(), status: z.string() })),
  counts: z.record(z.string(), z.number()),
});

/** The run's status view from the worker hosting it (`ms.as.<user>.cmd.<runId>.status`): as fresh as the log. */
export async function natsStatusView(target: NatsTarget, runId: string): Promise<RunStatusView> {
  const reply = await natsRunRequest(target, runId, 'status', {});
  if (!reply.accepted) throw new MatterStackError('COMMAND_REJECTED', `status of run ${runId}: ${reply.message} [${reply.code}]`, { runId });
  const parsed = StatusViewSchema.safeParse(reply.status);
  if (!parsed.success) throw new MatterStackError('INVALID_EVENT', `malformed status reply for run ${runId}`, { runId });
  // The worker sends getRunStatus() of the same projections code, so the shape is RunStatusView.
  return parsed.data as unknown as RunStatusView;
}
