/**
 * A persistent (immutable) map with O(1) `set`/`delete` on the newest version — Baker's trick:
 * the newest version owns one mutable `Map`, older versions hold the undo of one change each and
 * are "rerooted" (the diffs reversed) when read. Why: a run of 100k tasks must not copy a 100k
 * map per event (attempt snapshots, active attempts), yet every version must stay readable as
 * it was (the host decides on a working copy and falls back to the old one on a version conflict;
 * tests compare before/after). Reading an old version costs the number of changes since it.
 * Iteration follows insertion order exactly like a `Map`/plain object (a re-set key keeps its
 * place, a deleted then re-added key goes last), whichever version was rerooted last.
 */
interface Entry<V> {
  value: V;
  order: number;
}

/**
 * A version is either the owner of the shared map (`map` set) or one change away from the version
 * `to`: `key` bound to `entry` there (undefined: absent). The fields live on the version itself,
 * not in a node object per change, so rerooting swaps them in place: a host reading its committed
 * state while a drain's working copy is 2000 changes ahead reroots back and forth every batch, and
 * a new node per step made that most of the map's garbage.
 */
export class PersistentMap<K, V> implements ReadonlyMap<K, V> {
  private map: Map<K, Entry<V>> | undefined;
  private key: K | undefined = undefined;
  private entry: Entry<V> | undefined = undefined;
  private to: PersistentMap<K, V> | undefined = undefined;
  /** The insertion order the next new key of this version gets. */
  private readonly next: number;

  private constructor(map: Map<K, Entry<V>>, next: number) {
    this.map = map;
    this.next = next;
  }

  static empty<K, V>(): PersistentMap<K, V> {
    return new PersistentMap<K, V>(new Map(), 0);
  }

  static from<K, V>(entries: Iterable<readonly [K, V]>): PersistentMap<K, V> {
    const map = new Map<K, Entry<V>>();
    let next = 0;
    for (const [key, value] of entries) {
      const prev = map.get(key);
      if (prev !== undefined) prev.value = value;
      else map.set(key, { value, order: next++ });
    }
    return new PersistentMap<K, V>(map, next);
  }

  /** The map of this version (rerooting to it if an other version was the newest). */
  private rooted(): Map<K, Entry<V>> {
    if (this.map === undefined) this.reroot();
    return this.map as unknown as Map<K, Entry<V>>;
  }

  /** Makes this version the map's owner: reverses the changes on the path to the current owner. */
  private reroot(): void {
    const path: PersistentMap<K, V>[] = [];
    let cursor: PersistentMap<K, V> = this;
    while (cursor.map === undefined) {
      path.push(cursor);
      cursor = cursor.to as PersistentMap<K, V>;
    }
    // Walk back from the owner towards this version, undoing one change per step.
    for (let i = path.length - 1; i >= 0; i--) {
      const version = path[i] as PersistentMap<K, V>;
      const owner = version.to as PersistentMap<K, V>;
      const map = owner.map as Map<K, Entry<V>>;
      const key = version.key as K;
      const current = map.get(key);
      if (version.entry === undefined) map.delete(key);
      else map.set(key, version.entry);
      owner.becomeChange(key, current, version);
      version.map = map;
      version.key = undefined;
      version.entry = undefined;
      version.to = undefined;
    }
  }

  /** Turns this version into "`to` with `key` bound to `entry`" (it no longer owns the map). */
  private becomeChange(key: K, entry: Entry<V> | undefined, to: PersistentMap<K, V>): void {
    this.map = undefined;
    this.key = key;
    this.entry = entry;
    this.to = to;
  }

  get size(): number {
    return this.rooted().size;
  }

  get(key: K): V | undefined {
    return this.rooted().get(key)?.value;
  }

  has(key: K): boolean {
    return this.rooted().has(key);
  }

  /** A new version with `key` set (this version is unchanged). */
  set(key: K, value: V): PersistentMap<K, V> {
    const map = this.rooted();
    const prev = map.get(key);
    const next = new PersistentMap<K, V>(map, prev === undefined ? this.next + 1 : this.next);
    map.set(key, { value, order: prev === undefined ? this.next : prev.order });
    this.becomeChange(key, prev, next);
    return next;
  }

  /** A new version without `key` (this one when it is absent). */
  delete(key: K): PersistentMap<K, V> {
    const map = this.rooted();
    const prev = map.get(key);
    if (prev === undefined) return this;
    const next = new PersistentMap<K, V>(map, this.next);
    map.delete(key);
    this.becomeChange(key, prev, next);
    return next;
  }

  /** Values in no particular order (cheapest: counting). */
  unorderedValues(): V[] {
    const out: V[] = [];
    for (const entry of this.rooted().values()) out.push(entry.value);
    return out;
  }

  private ordered(): [K, Entry<V>][] {
    const list = [...this.rooted()];
    for (let i = 1; i < list.length; i++) {
      if ((list[i - 1] as [K, Entry<V>])[1].order > (list[i] as [K, Entry<V>])[1].order) {
        list.sort((a, b) => a[1].order - b[1].order);
        break;
      }
    }
    return list;
  }

  *entries(): MapIterator<[K, V]> {
    for (const [key, entry] of this.ordered()) yield [key, entry.value];
  }

  *keys(): MapIterator<K> {
    for (const [key] of this.ordered()) yield key;
  }

  *values(): MapIterator<V> {
    for (const [, entry] of this.ordered()) yield entry.value;
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }

  forEach(callback: (value: V, key: K, map: ReadonlyMap<K, V>) => void, thisArg?: unknown): void {
    for (const [key, entry] of this.ordered()) callback.call(thisArg, entry.value, key, this);
  }

  get [Symbol.toStringTag](): string {
    return 'PersistentMap';
  }
}
