// A NATS URL may carry `user:password@`: anything printed (hints, errors, logs) shows the user only.

// `scheme://user:password@` anywhere in a text (up to the first `@`: a password may hold `/`).
const CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/[^:@/\s]*):[^@\s]*?@/gi;

/** `text` with the password of every `scheme://user:password@host` in it replaced by `***`. */
export function redactPasswords(text: string): string {
  return text.replace(CREDENTIALS, '$1:***@');
}
