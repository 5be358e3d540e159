/**
 * A first-in-first-out queue of keyed items with O(1) membership, push and shift. Why not a `Map`
 * iterated from its start: V8 keeps deleted entries as holes until it rehashes, so taking the head
 * of a map that 100k effects passed through walked every hole again on each take.
 */
export class KeyedFifo<T> {
  private items: (readonly [string, T] | undefined)[] = [];
  private head = 0;
  private readonly keys = new Set<string>();

  get size(): number {
    return this.keys.size;
  }

  has(key: string): boolean {
    return this.keys.has(key);
  }

  /** Adds `item` at the tail under `key` (the caller checks `has` first: keys are unique). */
  push(key: string, item: T): void {
    this.keys.add(key);
    this.items.push([key, item]);
  }

  /** Removes every item. */
  clear(): void {
    this.items = [];
    this.head = 0;
    this.keys.clear();
  }

  /** Removes and returns the head, or undefined when empty. */
  shift(): readonly [string, T] | undefined {
    if (this.head >= this.items.length) return undefined;
    const entry = this.items[this.head] as readonly [string, T];
    this.items[this.head] = undefined;
    this.head += 1;
    this.keys.delete(entry[0]);
    // Drop the consumed prefix once it is most of the array, so memory follows what is queued.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return entry;
  }
}
