/**
 * Where a run's records sit in the JetStream stream, as far as this process has seen: the first
 * per-run sequence of each message and the message's stream sequence. A run's sequence does not
 * map to a stream position otherwise, so without it every `readRun(runId, afterSeq)` scanned the
 * run from the start of the stream (a projection pass locating two records read a 40k-task run
 * whole, twice per pass). Any entry is a valid place to start reading: a message holds only
 * records from its first sequence on, so dropping old entries (the per-run cap) loses no record.
 */
export interface MessageAnchor {
  firstSeq: number;
  streamSeq: number;
}

/** Entries kept per run; the older half goes when full (reads from far back start earlier). */
const MAX_ANCHORS_PER_RUN = 1024;

export class RunMessageIndex {
  private readonly runs = new Map<string, MessageAnchor[]>();

  /** Notes that the message at `streamSeq` starts with the run's record `firstSeq` (in stream order). */
  record(runId: string, firstSeq: number, streamSeq: number): void {
    let anchors = this.runs.get(runId);
    if (anchors === undefined) this.runs.set(runId, (anchors = []));
    const last = anchors[anchors.length - 1];
    if (last !== undefined && (last.firstSeq >= firstSeq || last.streamSeq >= streamSeq)) return;
    if (anchors.length >= MAX_ANCHORS_PER_RUN) anchors.splice(0, MAX_ANCHORS_PER_RUN / 2);
    anchors.push({ firstSeq, streamSeq });
  }

  /** The latest known message that starts at or before record `seq` (undefined: read from the stream's start). */
  anchorFor(runId: string, seq: number): MessageAnchor | undefined {
    const anchors = this.runs.get(runId);
    if (anchors === undefined) return undefined;
    let low = 0;
    let high = anchors.length - 1;
    let found: MessageAnchor | undefined;
    while (low <= high) {
      const middle = (low + high) >> 1;
      const anchor = anchors[middle] as MessageAnchor;
      if (anchor.firstSeq <= seq) {
        found = anchor;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found;
  }
}
