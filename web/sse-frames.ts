import type { LiveMessage } from './live-feed.ts';

const encoder = new TextEncoder();

/** Each message's encoded events by the runs whose attempts they carry ('' for none), shared by every page it goes to. */
const frames = new WeakMap<LiveMessage, Map<string, Uint8Array>>();

/**
 * `message` as one server-sent event's bytes for a page that asked for the attempt rows of
 * `attemptRuns`. Made once per message and distinct ask, not per page: with fifty pages open,
 * splitting and encoding a fan-out's megabyte once per page cost the server more than reading it.
 * The JSON text has no line break (JSON.stringify escapes them), so it is one `data:` line.
 */
export function sseFrame(message: LiveMessage, attemptRuns: ReadonlySet<string>): Uint8Array {
  const asked = message.dataFor === undefined ? [] : message.runIds.filter((runId) => attemptRuns.has(runId));
  const key = asked.join('\n');
  let byAsk = frames.get(message);
  if (byAsk === undefined) frames.set(message, (byAsk = new Map()));
  let bytes = byAsk.get(key);
  if (bytes === undefined) {
    const data = asked.length === 0 || message.dataFor === undefined ? message.data : message.dataFor(new Set(asked));
    byAsk.set(key, (bytes = encoder.encode(`event: ${message.event}\ndata: ${data}\n\n`)));
  }
  return bytes;
}
