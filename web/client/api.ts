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
let source: EventSource | undefined;

/** Calls `listener` whenever the log grows (one EventSource for the page); returns the unsubscribe. */
export function onLiveChange(listener: Listener): () => void {
  if (source === undefined) {
    source = new EventSource('/api/live');
    source.addEventListener('change', (event) => {
      const { runs } = JSON.parse((event as MessageEvent<string>).data) as { runs: LiveChange };
      for (const l of listeners) l(runs);
    });
  }
  listeners.add(listener);
  return () => listeners.delete(listener);
}
