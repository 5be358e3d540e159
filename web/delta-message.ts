import type { RunDelta } from './live-deltas.ts';
import type { LiveMessage } from './live-feed.ts';
import { deltaOnWire } from './row-columns.ts';

/**
 * The `delta` message of one gathering. Its attempt rows go only to pages that asked for a run's
 * (a page showing the timeline): the DAG and the runs page draw tasks, and attempts are half a
 * fan-out delta's bytes that every page would otherwise parse. Each run's part is serialized once,
 * with and without its attempts, and a page's text is these parts joined.
 */
export function deltaMessage(deltas: readonly RunDelta[]): LiveMessage {
  const bare = deltas.map((delta) => JSON.stringify(deltaOnWire(delta, false)));
  const full = new Map<string, string>();
  const withAttempts = (delta: RunDelta): string => {
    let text = full.get(delta.runId);
    if (text === undefined) full.set(delta.runId, (text = JSON.stringify(deltaOnWire(delta, true))));
    return text;
  };
  const join = (parts: readonly string[]): string => `{"deltas":[${parts.join(',')}]}`;
  return {
    event: 'delta',
    data: join(bare),
    runIds: deltas.map((d) => d.runId),
    dataFor: (attemptRuns) => join(deltas.map((delta, i) => (attemptRuns.has(delta.runId) ? withAttempts(delta) : (bare[i] as string)))),
  };
}
