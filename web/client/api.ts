// The page's only door to the server: JSON reads with the token header, commands, and the one live feed.

const TOKEN = document.body.dataset.token ?? '';
const TOKEN_HEADER = 'x-matterstack-token';

/** Whether this page may send commands (the server refuses them anyway when it may not). */
export const READ_ONLY = document.body.dataset.readOnly === 'true';
/** Who the page acts as. */
export const USER = document.body.dataset.user ?? '';

/** GETs `/api<path>` and parses the JSON (throws with the server's message on an error status). */
export async function getJson<T>(path: string): Promise<T> {
  const response = await fetch(`/api${path}`, { headers: { [TOKEN_HEADER]: TOKEN } });
  const body = (await response.json()) as T & { error?: { message: string } };
  if (!response.ok) throw new Error(body.error?.message ?? `${response.status} ${response.statusText}`);
  return body;
}

/** The server's answer to a command. */
export type CommandReply = { accepted: true; seq: number } | { accepted: false; code: string; message: string };

/** Sends one command to a run (`{type: 'CMD.PAUSE'}`, …), as the CLI would. */
export async function sendCommand(runId: string, command: Record<string, unknown>): Promise<CommandReply> {
  const response = await fetch(`/api/runs/${encodeURIComponent(runId)}/commands`, {
    method: 'POST',
    headers: { [TOKEN_HEADER]: TOKEN, 'content-type': 'application/json' },
    body: JSON.stringify(command),
  });
  return (await response.json()) as CommandReply;
}

/** Which runs' logs grew (run id → last seq). */
export type LiveChange = Record<string, number>;
type Listener = (change: LiveChange) => void;

const listeners = new Set<Listener>();
let started = false;

function deliver(runs: LiveChange): void {
  for (const l of listeners) l(runs);
}

/**
 * One EventSource per browser, not per tab: a browser keeps at most six connections to a host, and
 * seven open tabs each holding a stream would leave none for loading anything. The tab holding the
 * `matterstack-live` lock streams and passes each change to the others over a BroadcastChannel.
 */
function startFeed(): void {
  const channel = typeof BroadcastChannel === 'undefined' ? null : new BroadcastChannel('matterstack-live');
  channel?.addEventListener('message', (event: MessageEvent<LiveChange>) => deliver(event.data));
  const stream = (): Promise<never> =>
    new Promise<never>(() => {
      const source = new EventSource('/api/live');
      source.addEventListener('change', (event) => {
        const { runs } = JSON.parse((event as MessageEvent<string>).data) as { runs: LiveChange };
        deliver(runs);
        channel?.postMessage(runs);
      });
    });
  if (channel !== null && navigator.locks !== undefined) void navigator.locks.request('matterstack-live', stream);
  else void stream();
}

/** Calls `listener` whenever the log grows; returns the unsubscribe. */
export function onLiveChange(listener: Listener): () => void {
  if (!started) {
    started = true;
    startFeed();
  }
  listeners.add(listener);
  return () => listeners.delete(listener);
}
