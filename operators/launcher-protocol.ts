import { z } from 'zod';

/**
 * The lines the local operator and its launcher process (task-launcher.mjs) exchange, one JSON
 * object per line: launch requests on the launcher's stdin, what became of them on its stdout.
 */

/** Start the command of the attempt folder `dir` (its cwd), once, with exactly this environment. */
export const LaunchRequestSchema = z.object({
  /** Chosen by the sender; the reply carries it back. */
  id: z.number().int(),
  dir: z.string().min(1),
  argv: z.array(z.string()).min(1),
  env: z.record(z.string(), z.string()),
  /** The attempt's cgroup, which the command starts in (null: process group and session only). */
  cgroup: z.string().nullable(),
});
export type LaunchRequest = z.infer<typeof LaunchRequestSchema>;

const ProcessIdentity = { pid: z.number().int().positive(), procStartTime: z.number().int().nullable() };

/**
 * The start marker (started.json): pid and /proc start time (against pid reuse), when it started,
 * and the launcher that records its exit (while that one lives, a command gone without an exit
 * marker is not lost: its exit is being recorded).
 */
export const StartedSchema = z.object({ ...ProcessIdentity, startedAt: z.string(), launcher: z.object(ProcessIdentity).optional() });
export type Started = z.infer<typeof StartedSchema>;

/**
 * What the launcher did with request `id`: `started` (the command runs), or `not-started` because
 * another launcher had `claimed` the attempt (it starts it; this one did nothing), a kill marker
 * was there first (`cancelled`: nothing ran), the command could not be executed (`unrunnable`: its
 * exit marker says 127 or 126, its stderr.log why), or the launch `failed` (nothing ran: `message`).
 * Then, for every command it started or found unrunnable, `exited` with the code it recorded in the
 * exit marker (128 + n for a command ended by signal n, as a shell reports it).
 */
export const LaunchReplySchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('started'), id: z.number().int(), dir: z.string(), started: StartedSchema }),
  z.object({ kind: z.literal('not-started'), id: z.number().int(), dir: z.string(), why: z.enum(['claimed', 'cancelled', 'unrunnable', 'failed']), message: z.string() }),
  z.object({ kind: z.literal('exited'), dir: z.string(), code: z.number().int() }),
]);
export type LaunchReply = z.infer<typeof LaunchReplySchema>;
