import { describe, expect, it } from 'vitest';
import { emptySlotDoc, grantSlots, pruneExpired, releaseSlots, renewSlots } from '../host/slot-semaphore.ts';

const LEASE = 1000;

describe('the shared slot semaphore (pure)', () => {
  it('never grants more than the cap, whoever asks', () => {
    const doc = emptySlotDoc();
    const a = grantSlots(doc, 'w1', ['a1', 'a2', 'a3'].map((id) => ({ slotId: `A/${id}`, runId: 'A', cap: 2 })), 0, LEASE);
    const b = grantSlots(doc, 'w2', [{ slotId: 'B/b1', runId: 'B', cap: 2 }], 1, LEASE);
    expect(a.size + b.size).toBe(2);
    expect(Object.keys(doc.holders)).toHaveLength(2);
  });

  it('round-robin: a run with many ready tasks does not starve one with a single task', () => {
    const doc = emptySlotDoc();
    const many = Array.from({ length: 10 }, (_, i) => ({ slotId: `A/a${i}`, runId: 'A', cap: 1 }));
    expect(grantSlots(doc, 'w1', many, 0, LEASE)).toEqual(new Set(['A/a0']));
    grantSlots(doc, 'w2', [{ slotId: 'B/b0', runId: 'B', cap: 1 }], 1, LEASE);
    releaseSlots(doc, 'w1', ['A/a0']);
    // B waited while A was served: B goes first, though A's waiters are older.
    expect(grantSlots(doc, 'w1', many.slice(1), 2, LEASE)).toEqual(new Set());
    expect(grantSlots(doc, 'w2', [{ slotId: 'B/b0', runId: 'B', cap: 1 }], 3, LEASE)).toEqual(new Set(['B/b0']));
  });

  it("a dead holder's slots come back once its lease ends; a live holder's renewed ones stay", () => {
    const doc = emptySlotDoc();
    grantSlots(doc, 'dead', [{ slotId: 'A/a0', runId: 'A', cap: 2 }], 0, LEASE);
    grantSlots(doc, 'live', [{ slotId: 'B/b0', runId: 'B', cap: 2 }], 0, LEASE);
    renewSlots(doc, 'live', new Set(['B/b0']), 900, LEASE);
    pruneExpired(doc, 1500);
    expect(Object.keys(doc.holders)).toEqual(['B/b0']);
  });

  it('a release by a holder that lost the slot to another (adopted) leaves it held', () => {
    const doc = emptySlotDoc();
    grantSlots(doc, 'w1', [{ slotId: 'A/a0', runId: 'A', cap: 1 }], 0, LEASE);
    doc.holders['A/a0'] = { runId: 'A', holder: 'w2', expiresAt: LEASE };
    releaseSlots(doc, 'w1', ['A/a0']);
    expect(Object.keys(doc.holders)).toEqual(['A/a0']);
  });
});
