import { PersistentMap } from './persistent-map.ts';

/**
 * `RunContext.active` as a read-only plain-object view (`Object.keys`, `ctx.active[id]`,
 * JSON, `toEqual({})` all work as on a plain record) over a persistent map. Why: with an
 * unlimited cap a fan-out has every attempt active at once, and copying a 100k-entry record on
 * each report (immer copies the whole object it changes) makes the run quadratic. Updates go
 * through `activeWith`/`activeWithout` (O(1)), never through an immer draft (writes throw).
 */
const BACKING = Symbol('active.backing');

type Backing<V> = PersistentMap<string, V>;

function view<V>(backing: Backing<V>): Record<string, V> {
  const target = {} as Record<string, V>;
  return new Proxy(target, {
    get(t, key) {
      if (key === BACKING) return backing;
      if (typeof key === 'string') {
        const value = backing.get(key);
        if (value !== undefined || backing.has(key)) return value;
      }
      return Reflect.get(t, key);
    },
    has(t, key) {
      return (typeof key === 'string' && backing.has(key)) || Reflect.has(t, key);
    },
    ownKeys() {
      return [...backing.keys()];
    },
    getOwnPropertyDescriptor(_t, key) {
      if (typeof key !== 'string' || !backing.has(key)) return undefined;
      return { value: backing.get(key), writable: false, enumerable: true, configurable: true };
    },
    set() {
      throw new TypeError('RunContext.active is immutable: use activeWith/activeWithout');
    },
    deleteProperty() {
      throw new TypeError('RunContext.active is immutable: use activeWith/activeWithout');
    },
    defineProperty() {
      throw new TypeError('RunContext.active is immutable: use activeWith/activeWithout');
    },
  });
}

function backingOf<V>(active: Readonly<Record<string, V>>): Backing<V> {
  const backing = (active as Record<symbol, unknown>)[BACKING] as Backing<V> | undefined;
  return backing ?? PersistentMap.from(Object.entries(active));
}

/** An empty active record. */
export function emptyActive<V>(): Record<string, V> {
  return view(PersistentMap.empty<string, V>());
}

/** `active` plus the given entries (a new view; `active` is unchanged). */
export function activeWith<V>(active: Readonly<Record<string, V>>, entries: readonly (readonly [string, V])[]): Record<string, V> {
  if (entries.length === 0) return active as Record<string, V>;
  let backing = backingOf(active);
  for (const [key, value] of entries) backing = backing.set(key, value);
  return view(backing);
}

/** `active` without `key` (the same object when it is absent). */
export function activeWithout<V>(active: Readonly<Record<string, V>>, key: string): Record<string, V> {
  const backing = backingOf(active);
  if (!backing.has(key)) return active as Record<string, V>;
  return view(backing.delete(key));
}

/** How many entries, without listing them. */
export function activeSize(active: Readonly<Record<string, unknown>>): number {
  return backingOf(active).size;
}

/** The entries' values in no particular order (for counting). */
export function activeValues<V>(active: Readonly<Record<string, V>>): V[] {
  return backingOf(active).unorderedValues();
}
