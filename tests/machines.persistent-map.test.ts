import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { activeSize, activeWith, activeWithout, emptyActive } from '../machines/active-attempts.ts';
import { PersistentMap } from '../machines/persistent-map.ts';

type Op = { kind: 'set'; key: string; value: number } | { kind: 'delete'; key: string } | { kind: 'read'; version: number };

describe('optimisation: PersistentMap (the run system attempts and the active attempts)', () => {
  it('every version keeps its own content and plain-object key order, whichever version is read', () => {
    const key = fc.constantFrom('a', 'b', 'c', 'd', 'e');
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), key, value: fc.integer() }),
      fc.record({ kind: fc.constant('delete' as const), key }),
      fc.record({ kind: fc.constant('read' as const), version: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const versions: PersistentMap<string, number>[] = [PersistentMap.empty()];
        const models: Map<string, number>[] = [new Map()];
        for (const o of ops) {
          const last = versions.length - 1;
          if (o.kind === 'read') {
            const i = o.version % versions.length;
            expect([...(versions[i] as PersistentMap<string, number>)]).toEqual([...(models[i] as Map<string, number>)]);
            continue;
          }
          const model = new Map(models[last]);
          if (o.kind === 'set') model.set(o.key, o.value);
          else model.delete(o.key);
          const base = versions[last] as PersistentMap<string, number>;
          versions.push(o.kind === 'set' ? base.set(o.key, o.value) : base.delete(o.key));
          models.push(model);
        }
        versions.forEach((v, i) => {
          expect([...v]).toEqual([...(models[i] as Map<string, number>)]);
          expect(v.size).toBe(models[i]?.size);
        });
      }),
    );
  });

  it('the active view reads like a plain record and is immutable', () => {
    const empty = emptyActive<{ taskId: string }>();
    const two = activeWith(empty, [['x-a1', { taskId: 'x' }], ['y-a1', { taskId: 'y' }]]);
    const one = activeWithout(two, 'x-a1');
    expect(empty).toEqual({});
    expect(two).toEqual({ 'x-a1': { taskId: 'x' }, 'y-a1': { taskId: 'y' } });
    expect(Object.keys(one)).toEqual(['y-a1']);
    expect(JSON.stringify(two)).toBe('{"x-a1":{"taskId":"x"},"y-a1":{"taskId":"y"}}');
    expect(activeSize(two)).toBe(2);
    expect(two['x-a1']).toEqual({ taskId: 'x' });
    expect(one['x-a1']).toBeUndefined();
    expect(activeWithout(one, 'nope')).toBe(one);
    expect(() => {
      (one as Record<string, unknown>)['z'] = 1;
    }).toThrow(TypeError);
  });
});
