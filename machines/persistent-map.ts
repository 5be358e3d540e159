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

type Node<K, V> =
  | { root: true; map: Map<K, Entry<V>>; next: number }
  | { root: false; key: K; entry: Entry<V> | undefined; to: PersistentMap<K, V>; next: number };

export class PersistentMap<K, V> implements ReadonlyMap<K, V> {
  private node: Node<K, V>;

  private constructor(node: Node<K, V>) {
    this.node = node;
  }

  static empty<K, V>(): PersistentMap<K, V> {
    return new PersistentMap<K, V>({ root: true, map: new Map(), next: 0 });
  }

  static from<K, V>(entries: Iterable<readonly [K, V]>): PersistentMap<K, V> {
    const map = new Map<K, Entry<V>>();
    let next = 0;
    for (const [key, value] of entries) {
      const prev = map.get(key);
      if (prev !== undefined) prev.value = value;
      else map.set(key, { value, order: next++ });
    }
    return new PersistentMap<K, V>({ root: true, map, next });
  }

  /** The map of this version (rerooting to it if an other version was the newest). */
  private rooted(): Map<K, Entry<V>> {
    reroot(this);
    return (this.node as { map: Map<K, Entry<V>> }).map;
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
    const counter = this.node.next;
    const prev = map.get(key);
    const next = new PersistentMap<K, V>({ root: true, map, next: prev === undefined ? counter + 1 : counter });
    map.set(key, { value, order: prev === undefined ? counter : prev.order });
    this.node = { root: false, key, entry: prev, to: next, next: counter };
    return next;
  }

  /** A new version without `key` (this one when it is absent). */
  delete(key: K): PersistentMap<K, V> {
    const map = this.rooted();
    const prev = map.get(key);
    if (prev === undefined) return this;
    const next = new PersistentMap<K, V>({ root: true, map, next: this.node.next });
    map.delete(key);
    this.node = { root: false, key, entry: prev, to: next, next: this.node.next };
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

/** Makes `target` the version owning the map: reverses the diffs on the path to the current owner. */
function reroot<K, V>(target: PersistentMap<K, V>): void {
  const nodeOf = (m: PersistentMap<K, V>): Node<K, V> => (m as unknown as { node: Node<K, V> }).node;
  const setNode = (m: PersistentMap<K, V>, n: Node<K, V>): void => {
    (m as unknown as { node: Node<K, V> }).node = n;
  };
  if (nodeOf(target).root) return;
  const path: PersistentMap<K, V>[] = [];
  let cursor = target;
  while (!nodeOf(cursor).root) {
    path.push(cursor);
    cursor = (nodeOf(cursor) as { to: PersistentMap<K, V> }).to;
  }
  // Walk back from the owner towards `target`, undoing one change per step.
  for (let i = path.length - 1; i >= 0; i--) {
    const version = path[i] as PersistentMap<K, V>;
    const diff = nodeOf(version) as Extract<Node<K, V>, { root: false }>;
    const owner = diff.to;
    const ownerNode = nodeOf(owner) as Extract<Node<K, V>, { root: true }>;
    const map = ownerNode.map;
    const current = map.get(diff.key);
    if (diff.entry === undefined) map.delete(diff.key);
    else map.set(diff.key, diff.entry);
    setNode(owner, { root: false, key: diff.key, entry: current, to: version, next: ownerNode.next });
    setNode(version, { root: true, map, next: diff.next });
  }
}
