import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { eventIdSource, newEventId } from '../events/event-id.ts';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 100);
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The Unix milliseconds a UUIDv7 carries. */
const millisOf = (id: string): number => parseInt(id.slice(0, 8) + id.slice(9, 13), 16);

describe('event ids', () => {
  it('are UUIDv7 strings, strictly increasing, whatever the clock does (stands still, jumps, goes back)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 44 }),
        fc.array(fc.oneof(fc.constant(0), fc.integer({ min: -5000, max: 5000 })), { minLength: 1, maxLength: 6000 }),
        (start, steps) => {
          let clock = start;
          let call = 0;
          const next = eventIdSource(() => {
            clock = Math.max(0, clock + (steps[call++ % steps.length] ?? 0));
            return clock;
          });
          let previous = '';
          let latestClock = 0;
          for (let i = 0; i < steps.length; i++) {
            const id = next();
            latestClock = Math.max(latestClock, clock);
            expect(id).toMatch(UUID_V7);
            expect(id > previous).toBe(true);
            // Never earlier than the clock has been, never ahead of it by more than the counter overflows.
            expect(millisOf(id)).toBeGreaterThanOrEqual(latestClock);
            expect(millisOf(id)).toBeLessThanOrEqual(latestClock + Math.floor(i / 0x1000) + 1);
            previous = id;
          }
        },
      ),
      { numRuns: Math.max(10, Math.round(RUNS / 2)) },
    );
  });

  it('overflow of the per-millisecond counter moves to the next millisecond, still increasing', () => {
    const next = eventIdSource(() => 1000);
    const ids = Array.from({ length: 3 * 0x1000 + 5 }, () => next());
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.map(millisOf)).toEqual(ids.map((_, i) => 1000 + Math.floor(i / 0x1000)));
  });

  it('two generators (two processes) at the same clock never make the same id', () => {
    const [a, b] = [eventIdSource(() => 5), eventIdSource(() => 5)];
    const ids = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      ids.add(a());
      ids.add(b());
    }
    expect(ids.size).toBe(20_000);
  });

  it('the process-wide source carries the current time and never repeats', () => {
    const before = Date.now();
    const ids = Array.from({ length: 20_000 }, () => newEventId());
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    expect(millisOf(ids[0] as string)).toBeGreaterThanOrEqual(before);
  });
});
