import { MatterStackError } from '../events/errors.ts';
import { redactPasswords } from '../events/redact-url.ts';
import type { CommandContext } from './command.ts';

/** Where and as whom this invocation talks to NATS. */
export interface NatsTarget {
  /** Server URLs without credentials (the client gets those separately). */
  servers: string[];
  user: string | undefined;
  pass: string | undefined;
  /** The URLs as messages may show them: never with a password. */
  display: string;
}

/**
 * The NATS target of this invocation, or undefined on the embedded path. Credentials: user:pass
 * in the URL, else `--user` / MATTERSTACK_NATS_USER with MATTERSTACK_NATS_PASS (a password never
 * goes on the command line on its own: shells keep history).
 */
export function natsTarget(ctx: CommandContext): NatsTarget | undefined {
  const raw = ctx.global.natsUrl;
  if (raw === undefined || raw === '') return undefined;
  let user: string | undefined;
  let pass: string | undefined;
  const servers = raw.split(',').map((part) => {
    const text = part.trim();
    let url: URL;
    try {
      url = new URL(text.includes('://') ? text : `nats://${text}`);
    } catch {
      throw new MatterStackError('VALIDATION_FAILED', `invalid NATS URL "${redactPasswords(text)}"`, { field: 'nats' });
    }
    if (url.username !== '' && user === undefined) {
      user = decodeURIComponent(url.username);
      pass = url.password !== '' ? decodeURIComponent(url.password) : undefined;
    }
    url.username = '';
    url.password = '';
    return url.toString().replace(/\/$/, '');
  });
  if (user === undefined) {
    user = ctx.global.natsUser;
    pass = ctx.env.MATTERSTACK_NATS_PASS || undefined;
  }
  return { servers, user, pass, display: servers.join(',') };
}
