import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyedFifo } from '../host/keyed-fifo.ts';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 100);

describe('optimisation: KeyedFifo (O(1) push, shift and membership, where a Map walked its holes)', () => {
  it('behaves like an array used as a queue (order, membership, size), across compactions', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.nat({ max: 3000 }), fc.constant(-1)), { minLength: 3000, maxLength: 6000 }), (ops) => {
        const fifo = new KeyedFifo<number>();
        const model: number[] = [];
        for (const op of ops) {
          if (op === -1) {
            const taken = fifo.shift();
            const expected = model.shift();
            expect(taken === undefined ? undefined : taken[1]).toBe(expected);
            if (taken !== undefined) expect(taken[0]).toBe(`k${expected}`);
          } else if (!fifo.has(`k${op}`)) {
            fifo.push(`k${op}`, op);
            model.push(op);
          }
          expect(fifo.size).toBe(model.length);
        }
        for (const value of model) expect(fifo.has(`k${value}`)).toBe(true);
        const rest: number[] = [];
        for (let entry = fifo.shift(); entry !== undefined; entry = fifo.shift()) rest.push(entry[1]);
        expect(rest).toEqual(model);
      }),
      { numRuns: Math.max(10, Math.round(RUNS / 5)) },
    );
  });
});
