import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { RunStore } from '../host/run-store.ts';
import { accessGuard, allowedHosts } from './access-guard.ts';
import { clientBundle } from './client-bundle.ts';
import { commandApi, type CommandSender } from './command-api.ts';
import { runDeltas } from './live-deltas.ts';
import { LiveFeed } from './live-feed.ts';
import { pageShell } from './page-shell.ts';
import { pageWriter } from './page-writer.ts';
import { readApi, serialViews } from './read-api.ts';
import { ResyncFeed } from './resync-feed.ts';
import { sseFrame } from './sse-frames.ts';
import { workerReadApi, type WorkerReads } from './worker-read-api.ts';

/**
 * Where the page's reads come from: the log (`store`: every view, live from its records), or, for
 * a NATS user who may not read the log (the viewer), the workers (`worker`: runs and their tasks,
 * reloaded whenever `worker.watch` hears a run's log grow).
 */
export type ReadSource = { store: RunStore; worker?: never } | { worker: WorkerReads; store?: never };

/** What `matterstack ui` serves and how. */
export type WebServerOptions = ReadSource & {
  /** Address to bind (127.0.0.1 by default in the CLI). */
  host: string;
  /** 0: any free port. */
  port: number;
  /** Sends commands; null makes a read-only page (no buttons, commands refused). */
  send: CommandSender | null;
  /** Who the page acts as (shown on the page). */
  user: string;
  /** The access token (default: 32 random hex digits). */
  token?: string;
  onError: (error: unknown) => void;
};

/** A running web view. */
export interface WebServer {
  /** The URL to open, with its token. */
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

/** Seconds between SSE comments that keep idle connections open through proxies. */
const HEARTBEAT_MS = 15_000;

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/** What the pages' live stream listens to: the log's records (LiveFeed) or only which runs grew (ResyncFeed). */
type Feed = Pick<LiveFeed, 'subscribe' | 'close'>;

/** The Hono app: guard, page, script, JSON API (`reads`), live feed (none: a page that stays as loaded). */
export function webApp(options: WebServerOptions & { token: string }, reads: Hono, feed: Feed | null, hosts: () => ReadonlySet<string>): Hono {
  const app = new Hono();
  app.use('*', async (c, next) => {
    await next();
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.header(name, value);
  });
  app.use('*', accessGuard(options.token, hosts));
  app.get('/', (c) => c.html(pageShell(options.token, options.send === null, options.user)));
  app.get('/favicon.ico', (c) => c.body(null, 204));
  app.get('/app.js', async (c) => c.body(await clientBundle(), 200, { 'content-type': 'text/javascript; charset=utf-8' }));
  app.get('/api/session', (c) => c.json({ readOnly: options.send === null, user: options.user }));
  app.get('/api/live', (c) =>
    streamSSE(c, async (stream) => {
      // The runs whose attempt rows this page shows (its timeline): other pages go without them.
      const attemptRuns = new Set(c.req.queries('attempts') ?? []);
      const write = pageWriter((message) => stream.write(sseFrame(message, attemptRuns)).then(() => undefined));
      const unsubscribe = feed?.subscribe(write) ?? (write({ event: 'hello', data: '{"seen":{}}', runIds: [] }), () => undefined);
      stream.onAbort(unsubscribe);
      while (!stream.aborted && !stream.closed) await stream.sleep(HEARTBEAT_MS).then(() => stream.write(': keep-alive\n\n'));
      unsubscribe();
    }),
  );
  app.route('/api', reads);
  app.route('/api', commandApi(options.send));
  return app;
}

/** Starts the web view; resolves once it listens. */
export async function startWebServer(options: WebServerOptions): Promise<WebServer> {
  const token = options.token ?? randomBytes(16).toString('hex');
  let feed: Feed | null = null;
  let reads: Hono;
  if (options.store !== undefined) {
    const { store } = options;
    await store.project();
    const views = serialViews(store);
    feed = new LiveFeed(store.log, store.projector.position(), async (touches) => runDeltas(await views(), touches), options.onError, views);
    reads = readApi(store, views);
  } else {
    reads = workerReadApi(options.worker);
    if (options.worker.watch !== undefined) feed = new ResyncFeed(options.worker.watch, options.onError);
  }
  let hosts: ReadonlySet<string> = new Set();
  const app = webApp({ ...options, token }, reads, feed, () => hosts);
  const server = await new Promise<Server>((resolve) => {
    const started: ServerType = serve({ fetch: app.fetch, port: options.port, hostname: options.host }, () => resolve(started as Server));
  });
  const port = (server.address() as AddressInfo).port;
  hosts = allowedHosts(options.host, port);
  const shownHost = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${shownHost}:${port}/?token=${token}`,
    port,
    token,
    close: async () => {
      await feed?.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
