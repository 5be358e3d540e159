import { parseNatsUrl, type NatsUrl } from '../storage/nats-url.ts';
import type { CommandContext } from './command.ts';

/** Where and as whom this invocation talks to NATS. */
export type NatsTarget = NatsUrl;

/**
 * The NATS target of this invocation, or undefined on the embedded path. Credentials: user:pass
 * in the URL, else `--user` / MATTERSTACK_NATS_USER with MATTERSTACK_NATS_PASS (a password never
 * goes on the command line on its own: shells keep history).
 */
export function natsTarget(ctx: CommandContext): NatsTarget | undefined {
  const raw = ctx.global.natsUrl;
  if (raw === undefined || raw === '') return undefined;
  const target = parseNatsUrl(raw);
  if (target.user !== undefined) return target;
  return { ...target, user: ctx.global.natsUser, pass: ctx.env.MATTERSTACK_NATS_PASS || undefined };
}
