import { timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';

/** The cookie the page keeps its token in after the first visit with `?token=`. */
export const TOKEN_COOKIE = 'matterstack_token';
/** The header every command (and the page's API calls) carries the token in. */
export const TOKEN_HEADER = 'x-matterstack-token';

/** Whether `given` is the token, compared in constant time. */
function sameToken(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The `Host` values a browser uses for this server: the bound address and the loopback names, with the port. */
export function allowedHosts(host: string, port: number): Set<string> {
  const names = new Set([host, '127.0.0.1', 'localhost', '[::1]']);
  if (host.includes(':') && !host.startsWith('[')) names.add(`[${host}]`);
  return new Set([...names].map((name) => `${name}:${port}`));
}

/**
 * Refuses (403) a request whose Host is not this server's (DNS rebinding) or whose Origin is
 * another site's, then (401) one without the token: `?token=` (which sets the cookie), the
 * cookie, or the header. Writes (any method but GET/HEAD) need the header: a cookie alone could
 * come from a form on another site.
 */
export function accessGuard(token: string, hosts: () => ReadonlySet<string>): MiddlewareHandler {
  return async (c, next) => {
    const host = c.req.header('host') ?? '';
    if (!hosts().has(host)) return c.text('forbidden: unknown Host header', 403);
    const origin = c.req.header('origin');
    if (origin !== undefined && !hosts().has(origin.replace(/^https?:\/\//, ''))) return c.text('forbidden: cross-origin request', 403);
    const header = c.req.header(TOKEN_HEADER);
    const write = c.req.method !== 'GET' && c.req.method !== 'HEAD';
    if (write) {
      if (!sameToken(header, token)) return c.text('unauthorized: commands need the token in the x-matterstack-token header', 401);
      return next();
    }
    const query = c.req.query('token');
    if (sameToken(query, token)) {
      setCookie(c, TOKEN_COOKIE, token, { httpOnly: true, sameSite: 'Strict', path: '/' });
      return next();
    }
    if (sameToken(header, token) || sameToken(getCookie(c, TOKEN_COOKIE), token)) return next();
    return c.text('unauthorized: open the URL with ?token= that `matterstack ui` printed', 401);
  };
}
