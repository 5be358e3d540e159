// The page's only door to the server: JSON reads with the token header, commands, and the one live feed.
import type { RunDelta } from './live-delta.ts';
import { deltaFromWire, type WireDelta } from './row-columns.ts';

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

/**
 * What the live feed says: `hello` (at each connection: each run's last seq the server passed on,
 * so a page that loaded something older reloads it), `delta` (runs' changes), or `resync` (these
 * runs' deltas were dropped: reload them whole).
 */
export type LiveMessage =
  | { kind: 'hello'; seen: Record<string, number> }
  | { kind: 'delta'; deltas: RunDelta[] }
  | { kind: 'resync'; runs: string[] };
type Listener = (message: LiveMessage) => void;

const listeners = new Set<Listener>();
let started = false;

/** One server-sent event as it came: its name and its JSON text. */
interface Sse {
  type: 'hello' | 'delta' | 'resync';
  data: string;
}

/** The message an event's text says. */
function parse({ type, data }: Sse): LiveMessage {
  const body = JSON.parse(data) as object;
  if (type === 'hello') return { kind: 'hello', ...(body as { seen: Record<string, number> }) };
  if (type === 'delta') return { kind: 'delta', deltas: (body as { deltas: WireDelta[] }).deltas.map(deltaFromWire) };
  return { kind: 'resync', ...(body as { runs: string[] }) };
}

function deliver(message: LiveMessage): void {
  for (const l of listeners) l(message);
}

/**
 * One EventSource per browser, not per tab: a browser keeps at most six connections to a host, and
 * seven open tabs each holding a stream would leave none for loading anything. The tab holding the
 * `matterstack-live` lock streams and passes each message to the others over a BroadcastChannel.
 */
function startFeed(): void {
  const channel = typeof BroadcastChannel === 'undefined' ? null : new BroadcastChannel('matterstack-live');
  channel?.addEventListener('message', (event: MessageEvent<Sse>) => deliver(parse(event.data)));
  // Tabs pass each other the event's text, not the parsed message: cloning a delta of thousands of
  // rows for the channel cost a tab more than parsing it (even with no other tab listening).
  const pass = (event: Event): void => {
    const sse: Sse = { type: event.type as Sse['type'], data: (event as MessageEvent<string>).data };
    deliver(parse(sse));
    channel?.postMessage(sse);
  };
  const stream = (): Promise<never> =>
    new Promise<never>(() => {
      const source = new EventSource('/api/live');
      for (const type of ['hello', 'delta', 'resync'] as const) source.addEventListener(type, pass);
    });
  if (channel !== null && navigator.locks !== undefined) void navigator.locks.request('matterstack-live', stream);
  else void stream();
}

/** Calls `listener` with every message of the live feed; returns the unsubscribe. */
export function onLive(listener: Listener): () => void {
  if (!started) {
    started = true;
    startFeed();
  }
  listeners.add(listener);
  return () => listeners.delete(listener);
}
