import { MatterStackError } from '../events/errors.ts';
import { redactPasswords } from '../events/redact-url.ts';

/** A NATS URL list split into what the client takes: servers without credentials, and the login. */
export interface NatsUrl {
  /** Server URLs without credentials (the client gets those separately). */
  servers: string[];
  /** From the first URL that names a user. */
  user: string | undefined;
  pass: string | undefined;
  /** The URLs as messages may show them: never with a password. */
  display: string;
}

/**
 * Parses a comma-separated NATS URL list (`nats://user:pass@host:4222,host2`): the NATS client
 * ignores credentials inside a URL, so they are taken out here. Errors never show the password.
 */
export function parseNatsUrl(raw: string): NatsUrl {
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
  return { servers, user, pass, display: servers.join(',') };
}
