import type { Logger } from '../events/logger.ts';
import type { PendingEffect } from '../machines/pending-effects.ts';
import { KeyedFifo } from './keyed-fifo.ts';

/**
 * Effects running at once, at most; the rest wait in a FIFO (a PendingEffect each). A big fan-out
 * dispatches 100k starts in one append: started all at once they were 100k suspended async calls
 * (frames, promises, operator contexts) alive together — most of the peak memory of fanout-100000.
 * Every effect either finishes quickly or only subscribes (watches), so a cap this size keeps
 * operators as busy as before. A queued effect counts as in flight (de-duplication, `settle`).
 */
export const MAX_EFFECTS_RUNNING = 1000;

/** What an effect is about, for its log lines: its attempt, or the campaign iteration. */
export function effectSubject({ effect }: PendingEffect): { attemptId: string } | { iteration: number } {
  return effect.type === 'campaign.analyzeAndPlan' ? { iteration: effect.iteration } : { attemptId: effect.attemptId };
}

/** Identifies an effect for de-duplication: one of each kind per attempt (or per campaign iteration). */
export function effectKey(pending: PendingEffect): string {
  const { effect } = pending;
  return effect.type === 'campaign.analyzeAndPlan' ? `${effect.type}:${effect.iteration}` : `${effect.type}:${effect.attemptId}`;
}

/**
 * A host's running effects: one per key at a time, at most MAX_EFFECTS_RUNNING at once, the rest
 * started in the order they were asked for as slots free up. An effect's error is logged with what
 * it was for and kept for whoever drives the host (it never breaks the run, but must not vanish).
 */
export class EffectPool {
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Effects waiting for a slot (FIFO by insertion), keyed like `inFlight`. */
  private readonly waiting = new KeyedFifo<PendingEffect>();
  private readonly errors: unknown[] = [];
  private stopped = false;

  /** `run` carries an effect out (the host's EffectHandler). */
  constructor(
    private readonly run: (pending: PendingEffect) => Promise<void>,
    private readonly logger: Logger,
  ) {}

  /** Starts `pending`, or queues it when the pool is full; nothing when its key runs or waits already, or after `stop`. */
  start(pending: PendingEffect): void {
    if (this.stopped) return;
    const key = effectKey(pending);
    if (this.has(key)) return;
    if (this.inFlight.size >= MAX_EFFECTS_RUNNING) this.waiting.push(key, pending);
    else this.launch(key, pending);
  }

  /** True when an effect with this key runs or waits. */
  has(key: string): boolean {
    return this.inFlight.has(key) || this.waiting.has(key);
  }

  /** True while any effect runs or waits. */
  get busy(): boolean {
    return this.inFlight.size > 0 || this.waiting.size > 0;
  }

  /** Resolves when the effects running now have ended (those they start meanwhile are not awaited). */
  async running(): Promise<void> {
    await Promise.allSettled([...this.inFlight.values()]);
  }

  /** The errors effects raised since the last call. */
  drainErrors(): unknown[] {
    return this.errors.splice(0);
  }

  /** Starts nothing more: waiting effects are dropped, running ones end on their own. */
  stop(): void {
    this.stopped = true;
    this.waiting.clear();
  }

  private launch(key: string, pending: PendingEffect): void {
    this.inFlight.set(key, this.carryOut(key, pending));
  }

  /** One promise per running effect (a `.catch().finally()` chain made three, all alive as long). */
  private async carryOut(key: string, pending: PendingEffect): Promise<void> {
    try {
      await this.run(pending);
    } catch (error) {
      // Raised by whoever drives the host (raiseEffectErrors); logged now, with the attempt it was for.
      this.logger.error({ err: error, effect: pending.effect.type, ...effectSubject(pending) }, 'effect failed');
      this.errors.push(error);
    } finally {
      this.inFlight.delete(key);
      this.launchWaiting();
    }
  }

  /** Starts waiting effects while slots are free (FIFO: the order the records asked for them). */
  private launchWaiting(): void {
    while (this.inFlight.size < MAX_EFFECTS_RUNNING && !this.stopped) {
      const next = this.waiting.shift();
      if (next === undefined) return;
      this.launch(next[0], next[1]);
    }
  }
}
