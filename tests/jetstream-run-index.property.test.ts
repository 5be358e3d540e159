import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RunMessageIndex } from '../storage/jetstream-run-index.ts';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 200);

describe('optimisation: RunMessageIndex (where a run\'s reads start in the stream)', () => {
  it('answers the latest recorded message starting at or before a sequence, whatever subset was recorded', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 5 }), fc.boolean()), { minLength: 1, maxLength: 3000 }), (batches) => {
        const index = new RunMessageIndex();
        const recorded: { firstSeq: number; streamSeq: number }[] = [];
        let seq = 1;
        batches.forEach(([size, keep], message) => {
          const anchor = { firstSeq: seq, streamSeq: message * 2 + 1 };
          if (keep) {
            index.record('r', anchor.firstSeq, anchor.streamSeq);
            index.record('r', anchor.firstSeq, anchor.streamSeq); // a re-read records it again: no change
            recorded.push(anchor);
          }
          seq += size;
        });
        for (let probe = 0; probe <= seq; probe++) {
          const got = index.anchorFor('r', probe);
          const candidates = recorded.filter((a) => a.firstSeq <= probe);
          if (got === undefined) {
            // Only when nothing recorded starts early enough, or the cap dropped every such entry.
            expect(candidates.length === 0 || recorded.length > 1024).toBe(true);
          } else {
            expect(got.firstSeq).toBeLessThanOrEqual(probe);
            expect(candidates).toContainEqual(got);
            if (recorded.length <= 1024) expect(got).toEqual(candidates[candidates.length - 1]);
          }
        }
        expect(index.anchorFor('other', seq)).toBeUndefined();
      }),
      { numRuns: RUNS / 4 },
    );
  });
});
