/** Runs at most one call per key at a time: concurrent callers with the same key share its promise. */
export class SingleFlight<T> {
  private readonly pending = new Map<string, Promise<T>>();

  /** The running call for `key`, or a new one of `run`. */
  run(key: string, run: () => Promise<T>): Promise<T> {
    const existing = this.pending.get(key);
    if (existing) return existing;
    const promise = run().finally(() => this.pending.delete(key));
    this.pending.set(key, promise);
    return promise;
  }
}
