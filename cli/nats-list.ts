import { z } from 'zod';
import type { ListPayload } from '../events/command-messages.ts';
import { MatterStackError } from '../events/errors.ts';
import type { RunView } from '../projections/queries.ts';
import { COMMAND_TIMEOUT_MS, explainPermission, toCliReply, withNats } from './nats-session.ts';
import type { NatsTarget } from './nats-target.ts';

// Enough of a run to print it; the rest travels as the worker's projections wrote it.
const RunViewSchema = z.looseObject({
  runId: z.string(),
  workspace: z.string().nullable(),
  status: z.string(),
  phase: z.string().nullable(),
  iteration: z.number().nullable(),
  updatedAt: z.string().nullable(),
});

/** The runs of the log as a worker lists them (`ms.as.<user>.cmd.list`): allowed to every user, the viewer too. */
export async function natsRunList(target: NatsTarget, payload: Partial<ListPayload>): Promise<RunView[]> {
  const { requestList } = await import('../distributed/command-client.ts');
  const reply = toCliReply(await withNats(target, (nc) => requestList(nc, payload, COMMAND_TIMEOUT_MS)).catch((error: unknown) => explainPermission(error, target, 'list runs')), {
    allRejectionsThrow: true,
  });
  const parsed = z.array(RunViewSchema).safeParse(reply.accepted ? reply.runs : undefined);
  if (!parsed.success) throw new MatterStackError('INVALID_EVENT', 'malformed list reply from the worker');
  // The worker sends listRuns() of the same projections code, so the shape is RunView.
  return parsed.data as unknown as RunView[];
}
