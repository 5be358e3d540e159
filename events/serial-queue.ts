/** Runs jobs one after another: each starts once every job queued before it has settled. */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  /** Queues `job`; its result or failure goes to this caller only, never to the jobs after it. */
  run<T>(job: () => Promise<T>): Promise<T> {
    const next = this.tail.then(job, job);
    // The caller sees the failure through `next`; the queue only needs to know that the job settled.
    this.tail = next.catch(() => undefined);
    return next;
  }

  /** Settles once every job queued so far has settled (never rejects). */
  get settled(): Promise<unknown> {
    return this.tail;
  }
}
