import { describe, expect, it } from 'vitest';
import { fairShare, initTarget, mayTakeRun, ORPHAN_SCANS, STUCK_SCANS } from '../distributed/spread-policy.ts';

const loads = (entries: Record<string, number>): Map<string, number> => new Map(Object.entries(entries));

describe('runs are spread over the live workers', () => {
  it('a worker takes unleased runs up to its even share of the runs among the live workers', () => {
    const live = loads({ w1: 3, w2: 4, w3: 4 });
    expect(mayTakeRun({ self: 'w1', hosted: 3, runs: 12, loads: live, unleasedScans: 1 })).toBe(true);
    expect(mayTakeRun({ self: 'w2', hosted: 4, runs: 12, loads: live, unleasedScans: 1 })).toBe(false);
  });

  it('the share is recomputed from the live workers: one gone, the others may host half each', () => {
    expect(mayTakeRun({ self: 'w2', hosted: 4, runs: 12, loads: loads({ w2: 4, w3: 4 }), unleasedScans: 1 })).toBe(true);
    expect(fairShare(12, 2)).toBe(6);
  });

  it('a run left unleased while every worker believes it has its share is taken by the least loaded, then by anyone', () => {
    // w1 died with its presence not yet expired: the survivors count three workers and are full.
    const stale = loads({ w1: 4, w2: 4, w3: 5 });
    const asked = (self: string, hosted: number, unleasedScans: number): boolean => mayTakeRun({ self, hosted, runs: 12, loads: stale, unleasedScans });
    expect(asked('w2', 4, 1)).toBe(false);
    expect(asked('w2', 4, ORPHAN_SCANS)).toBe(true);
    expect(asked('w3', 5, ORPHAN_SCANS)).toBe(false);
    expect(asked('w3', 5, STUCK_SCANS)).toBe(true);
  });

  it('a worker that hosts its share leaves a new run to the least loaded other worker, and only to one with fewer runs', () => {
    expect(initTarget('w1', 4, 11, loads({ w1: 4, w2: 4, w3: 3 }))).toBe('w3');
    expect(initTarget('w1', 3, 11, loads({ w1: 3, w2: 4, w3: 4 }))).toBeUndefined();
    expect(initTarget('w1', 4, 12, loads({ w1: 4, w2: 4, w3: 4 }))).toBeUndefined();
  });

  it('a worker alone (its own presence not yet read) hosts every new run', () => {
    expect(initTarget('w1', 10, 10, new Map())).toBeUndefined();
    expect(mayTakeRun({ self: 'w1', hosted: 10, runs: 11, loads: new Map(), unleasedScans: 1 })).toBe(true);
  });
});
