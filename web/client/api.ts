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

/**
 * What tabs tell each other on the channel: an event the streaming tab heard; which runs' attempt
 * rows a tab asks for (its whole ask, replacing the one before); or the streaming tab asking every
 * tab for its ask (it has just taken the stream over).
 */
type Note = { kind: 'sse'; sse: Sse } | { kind: 'ask'; tab: string; runs: string[] } | { kind: 'who-asks' };

/** This tab among the browser's (for the streaming tab's table of asks). */
const TAB = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
/** Runs whose attempt rows this tab's views ask for, with how many views ask. */
const asked = new Map<string, number>();
/** In the streaming tab: each tab's ask; the stream asks the server for their union. */
const asks = new Map<string, readonly string[]>();
/** In the streaming tab: opens the stream again if the union of asks changed. */
let restream: (() => void) | null = null;
let channel: BroadcastChannel | null = null;

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

/** Tells the streaming tab (this one, or another over the channel) this tab's ask. */
function tellAsk(): void {
  const runs = [...asked.keys()];
  if (restream !== null) {
    asks.set(TAB, runs);
    restream();
  } else channel?.postMessage({ kind: 'ask', tab: TAB, runs } satisfies Note);
}

/** The stream's URL for the runs whose attempts some tab asks for. */
function liveUrl(): string {
  const runs = [...new Set([...asks.values()].flat())].sort();
  return runs.length === 0 ? '/api/live' : `/api/live?${runs.map((r) => `attempts=${encodeURIComponent(r)}`).join('&')}`;
}

/**
 * One EventSource per browser, not per tab: a browser keeps at most six connections to a host, and
 * seven open tabs each holding a stream would leave none for loading anything. The tab holding the
 * `matterstack-live` lock streams and passes each message to the others over a BroadcastChannel;
 * the stream carries attempt rows only for the runs some tab asked for (askAttempts), and is opened
 * again when that changes.
 */
function startFeed(): void {
  channel = typeof BroadcastChannel === 'undefined' ? null : new BroadcastChannel('matterstack-live');
  channel?.addEventListener('message', (event: MessageEvent<Note>) => {
    const note = event.data;
    if (note.kind === 'sse') deliver(parse(note.sse));
    else if (note.kind === 'who-asks') tellAsk();
    else if (restream !== null) {
      asks.set(note.tab, note.runs);
      restream();
    }
  });
  // A closed tab's ask would keep attempt rows coming to the others.
  window.addEventListener('pagehide', () => channel?.postMessage({ kind: 'ask', tab: TAB, runs: [] } satisfies Note));
  // Tabs pass each other the event's text, not the parsed message: cloning a delta of thousands of
  // rows for the channel cost a tab more than parsing it (even with no other tab listening).
  const pass = (event: Event): void => {
    const sse: Sse = { type: event.type as Sse['type'], data: (event as MessageEvent<string>).data };
    deliver(parse(sse));
    channel?.postMessage({ kind: 'sse', sse } satisfies Note);
  };
  const stream = (): Promise<never> =>
    new Promise<never>(() => {
      let source: EventSource | null = null;
      let url = '';
      restream = () => {
        if (liveUrl() === url) return;
        url = liveUrl();
        source?.close();
        source = new EventSource(url);
        for (const type of ['hello', 'delta', 'resync'] as const) source.addEventListener(type, pass);
      };
      asks.set(TAB, [...asked.keys()]);
      channel?.postMessage({ kind: 'who-asks' } satisfies Note);
      restream();
    });
  if (channel !== null && navigator.locks !== undefined) void navigator.locks.request('matterstack-live', stream);
  else void stream();
}

function startOnce(): void {
  if (started) return;
  started = true;
  startFeed();
}

/** Asks the live feed for run `runId`'s attempt rows (the timeline shows them) until the returned function is called. */
export function askAttempts(runId: string): () => void {
  startOnce();
  asked.set(runId, (asked.get(runId) ?? 0) + 1);
  tellAsk();
  return () => {
    const left = (asked.get(runId) ?? 1) - 1;
    if (left === 0) asked.delete(runId);
    else asked.set(runId, left);
    tellAsk();
  };
}

/** Calls `listener` with every message of the live feed; returns the unsubscribe. */
export function onLive(listener: Listener): () => void {
  startOnce();
  listeners.add(listener);
  return () => listeners.delete(listener);
}
