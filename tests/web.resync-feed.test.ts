import { describe, expect, it, vi } from 'vitest';
import type { LiveMessage } from '../web/live-feed.ts';
import { ResyncFeed, type WatchRuns } from '../web/resync-feed.ts';

// The viewer's live feed: which runs grew, gathered, sent as `resync` to every page. The watch is
// driven by hand here (what it hears over NATS is tested in web.ui.nats).

/** A watch whose `touch` and `fail` the test calls, and whether it was stopped. */
function handWatch(): { watch: WatchRuns; touch: (runId: string) => void; fail: (error: unknown) => void; stopped: () => boolean } {
  let touched: (runId: string) => void = () => undefined;
  let failed: (error: unknown) => void = () => undefined;
  let stopped = false;
  return {
    watch: async (onTouched, onFailed) => {
      touched = onTouched;
      failed = onFailed;
      return async () => {
        stopped = true;
      };
    },
    touch: (runId) => touched(runId),
    fail: (error) => failed(error),
    stopped: () => stopped,
  };
}

const resyncedRuns = (messages: LiveMessage[]): string[][] =>
  messages.filter((m) => m.event === 'resync').map((m) => (JSON.parse(m.data) as { runs: string[] }).runs);

describe('ResyncFeed (the viewer page\'s live feed)', () => {
  it('greets a page with an empty hello, then sends one resync per gathering naming each grown run once', async () => {
    vi.useFakeTimers();
    try {
      const hand = handWatch();
      const feed = new ResyncFeed(hand.watch, () => undefined);
      await vi.advanceTimersByTimeAsync(0);
      const heard: LiveMessage[] = [];
      const off = feed.subscribe((m) => heard.push(m));
      expect(heard).toEqual([{ event: 'hello', data: '{"seen":{}}', runIds: [] }]);
      for (const runId of ['r1', 'r2', 'r1', 'r1']) hand.touch(runId);
      expect(resyncedRuns(heard)).toEqual([]);
      await vi.advanceTimersByTimeAsync(500);
      expect(resyncedRuns(heard)).toEqual([['r1', 'r2']]);
      expect(heard.at(-1)?.runIds).toEqual(['r1', 'r2']);
      hand.touch('r3');
      await vi.advanceTimersByTimeAsync(500);
      expect(resyncedRuns(heard)).toEqual([['r1', 'r2'], ['r3']]);
      off();
      hand.touch('r4');
      await vi.advanceTimersByTimeAsync(500);
      expect(resyncedRuns(heard)).toHaveLength(2);
      await feed.close();
      expect(hand.stopped()).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it('reports a watch that breaks or never starts, and closes all the same', async () => {
    const errors: unknown[] = [];
    const hand = handWatch();
    const feed = new ResyncFeed(hand.watch, (e) => errors.push(e));
    await new Promise((r) => setImmediate(r));
    hand.fail(new Error('permissions violation'));
    expect(errors).toEqual([new Error('permissions violation')]);
    await feed.close();
    const never = new ResyncFeed(async () => {
      throw new Error('cannot connect');
    }, (e) => errors.push(e));
    await new Promise((r) => setImmediate(r));
    expect(errors.at(-1)).toEqual(new Error('cannot connect'));
    await never.close();
  });
});
