import type { LiveMessage } from './live-feed.ts';

/**
 * Passes the feed's messages to one page, one write at a time. A page still taking the previous
 * message when the next comes has fallen behind (slow tab, slow link): rather than queue deltas
 * for it, the server drops them and, once it has caught up, sends one `resync` naming the runs it
 * missed, which the page reloads whole. A failed write (the page left) is dropped.
 */
export function pageWriter(write: (message: LiveMessage) => Promise<void>): (message: LiveMessage) => void {
  let writing = false;
  const missed = new Set<string>();
  const send = (message: LiveMessage): void => {
    writing = true;
    write(message)
      // A failed write means the page left: its stream is closed, there is nobody to tell.
      .catch(() => undefined)
      .finally(() => {
        writing = false;
        if (missed.size === 0) return;
        const runs = [...missed];
        missed.clear();
        send({ event: 'resync', data: JSON.stringify({ runs }), runIds: runs });
      });
  };
  return (message) => {
    if (!writing) send(message);
    else for (const runId of message.runIds) missed.add(runId);
  };
}
