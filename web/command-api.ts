import { Hono } from 'hono';
import { z } from 'zod';
import { isMatterStackError } from '../events/errors.ts';
import { IdSchema } from '../events/ids.ts';

/** The reply to a command, as the CLI reports it. */
export type CommandReply = { accepted: true; seq: number } | { accepted: false; code: string; message: string };

/** Sends one command to a run the way the CLI's commands do (same validation, same delivery, `by` set by the sender). */
export type CommandSender = (runId: string, input: Record<string, unknown>) => Promise<CommandReply>;

/** The commands a page may send; `by` is the server's to set, never the page's. */
const PageCommandSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.enum(['CMD.PAUSE', 'CMD.RESUME', 'CMD.CANCEL', 'CMD.REVIVE']) }),
  z.strictObject({ type: z.literal('CMD.RERUN'), taskId: IdSchema }),
  z.strictObject({ type: z.literal('CMD.CANCEL_ATTEMPT'), attemptId: IdSchema }),
  z.strictObject({ type: z.enum(['CMD.APPROVE', 'CMD.REJECT']), taskId: IdSchema, comment: z.string().optional(), data: z.json().optional() }),
]);

/** `POST /runs/:run/commands`: a command from the page, or 403 on a read-only page. */
export function commandApi(send: CommandSender | null): Hono {
  const api = new Hono();
  api.post('/runs/:run/commands', async (c) => {
    if (send === null) return c.json({ accepted: false, code: 'READ_ONLY', message: 'this page is read-only: it sends no commands' }, 403);
    const runId = IdSchema.safeParse(c.req.param('run'));
    // A body that is not JSON parses as undefined, which the schema refuses with a 400 naming it.
    const body = PageCommandSchema.safeParse(await c.req.json().catch(() => undefined));
    if (!runId.success || !body.success) {
      const issue = (runId.success ? body.error : runId.error)?.issues[0];
      const field = runId.success ? issue?.path.join('.') || 'command' : 'run id';
      return c.json({ accepted: false, code: 'VALIDATION_FAILED', message: `invalid ${field}: ${issue?.message ?? 'invalid'}` }, 400);
    }
    try {
      const reply = await send(runId.data, body.data);
      return c.json(reply, reply.accepted ? 200 : 409);
    } catch (error) {
      if (!isMatterStackError(error)) throw error;
      return c.json({ accepted: false, code: error.code, message: error.message }, error.code === 'RUN_NOT_FOUND' ? 404 : 400);
    }
  });
  return api;
}
