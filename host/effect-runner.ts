import { errorMessage, isMatterStackError } from '../events/errors.ts';
import type { JsonObject, JsonValue } from '../events/json.ts';
import { schemaMismatch } from '../events/json-schema.ts';
import { rootLogger, type Logger } from '../events/logger.ts';
import type { AttemptEvent, CollectedOutcome } from '../events/run-events.ts';
import { attemptPhase, isCollecting, isWatchable, reportStartsCollecting } from '../machines/attempt-phase.ts';
import type { AttemptDecisionRecord } from '../machines/attempt.machine.ts';
import type { AttemptSnapshot } from '../machines/decide.ts';
import type { Effect } from '../machines/effects.ts';
import type { PendingEffect } from '../machines/pending-effects.ts';
import { getTask, tasksInOrder } from '../machines/run-context.ts';
import { retryDelayMs } from '../machines/rules/retry.ts';
import type { TaskResult } from '../campaign/campaign.ts';
import type { LoadedCampaign } from '../campaign/load-campaign.ts';
import { taskRouting } from '../campaign/task-routing.ts';
import { validateWorkflow } from '../campaign/validate-workflow.ts';
import { operatorLog, type OperatorContext, type PollResult, type Unsubscribe } from '../operators/operator.ts';
import type { OperatorRegistry, RegisteredOperator } from '../operators/operator-registry.ts';
import { effectSubject } from './effect-pool.ts';
import type { EffectHandler, RunHost } from './run-host.ts';
import { GLOBAL_POOL, type SharedSlots } from './shared-slots.ts';
import { attemptDirIn, runDirOf } from '../workspace/workspace.ts';

/** What the effect runner needs to know about the run's workspace. */
export interface EffectRunnerOptions {
  runId: string;
  workspaceDir: string;
  operators: OperatorRegistry;
  campaign: LoadedCampaign;
  /**
   * `live`: keep watching active attempts (push, or polled on the operator's interval) — the mode
   * of runUntilCompletion. `step`: no watchers; `pollActive` is called at the start of each cycle.
   */
  mode: 'live' | 'step';
  /** Where it logs (it should carry the run id; default: the process's logger with the run id). Operators get a child with their key and the attempt id. */
  logger?: Logger;
  /** Waits out a stepped retry's backoff (default: a timer); a simulated world (matterstack/testing) passes time at once. */
  sleep?: (ms: number) => Promise<void>;
  /** The slots of capped operators shared with other runs: an attempt takes one before it is submitted. */
  slots?: SharedSlots;
  /** The global cap shared with the other runs (operators.yaml's `defaults.max_concurrent_global`, when set there): an attempt takes one of its slots too, after its operator's. */
  globalCap?: number;
}

/**
 * Turns effects into operator and campaign calls and their outcomes into events for the host.
 * Every call is idempotent by attempt id, so re-issuing an effect after a crash is safe.
 */
export class EffectRunner implements EffectHandler {
  private readonly options: EffectRunnerOptions;
  private readonly watchers = new Map<string, Unsubscribe>();
  /**
   * Attempts whose ending report is being collected and sent. Until it is applied the attempt
   * still reads as running, and the watch effect its SUBMITTED owes would watch it again and
   * collect its results a second time.
   */
  private readonly ending = new Set<string>();
  private readonly backoffTimers = new Set<NodeJS.Timeout>();
  /** Set by `stop()`: a submit that returns afterwards must not leave a watcher (or its poll timer) behind. */
  private stopped = false;
  /** `runDirOf` of the run, resolved once (every operator context carries it). */
  private runDir: string | undefined;
  private readonly logger: Logger;
  /** Live mode: waits for shared slots end with the runner. */
  private readonly stopping = new AbortController();

  constructor(options: EffectRunnerOptions) {
    this.options = options;
    this.logger = options.logger ?? rootLogger().child({ runId: options.runId });
  }

  /** Runs one effect to completion (watches only subscribe: their reports arrive later). */
  async run(host: RunHost, pending: PendingEffect): Promise<void> {
    const { effect } = pending;
    this.logger.debug({ effect: effect.type, ...effectSubject(pending) }, 'effect');
    switch (effect.type) {
      case 'attempt.start':
        return this.start(host, effect);
      case 'attempt.watch':
        return this.watch(host, effect.attemptId);
      case 'attempt.collect':
        return this.collect(host, effect.attemptId);
      case 'attempt.cancel':
        return this.cancel(host, effect.attemptId);
      case 'campaign.analyzeAndPlan':
        return this.analyzeAndPlan(host, effect);
    }
  }

  /** Polls every active attempt once and reports changes (the POLL phase of a stepped cycle). */
  async pollActive(host: RunHost): Promise<void> {
    const reports: { actor: string; event: AttemptEvent }[] = [];
    for (const [attemptId, snapshot] of host.state.attempts) {
      if (!isWatchable(snapshot)) continue;
      const target = this.resolve(snapshot);
      if (target === undefined) continue;
      const result = await target.registered.operator.poll(target.ctx);
      const event = reportIfChanged(snapshot, result);
      if (event === undefined) continue;
      reports.push({ actor: attemptId, event: reportStartsCollecting(event.status) ? { ...event, results: await collectedOutcome(target, event.status === 'COMPLETED') } : event });
    }
    if (reports.length > 0) await host.send(reports);
  }

  /** Stops every watcher, and keeps effects still in flight from starting new ones (the host is shutting down; the work itself goes on). */
  stop(): void {
    this.stopped = true;
    this.stopping.abort();
    for (const unsubscribe of this.watchers.values()) unsubscribe();
    this.watchers.clear();
    for (const timer of this.backoffTimers) clearTimeout(timer);
    this.backoffTimers.clear();
  }

  private async start(host: RunHost, effect: Extract<Effect, { type: 'attempt.start' }>, afterBackoff = false): Promise<void> {
    let snapshot = host.state.attempts.get(effect.attemptId);
    if (snapshot === undefined || attemptPhase(snapshot) !== 'created') return;
    // An automatic retry starts after its backoff (machines/rules/retry.ts); the attempt is CREATED meanwhile.
    const entry = host.state.run === undefined ? undefined : getTask(host.state.run.context, effect.taskId);
    const delayMs = !afterBackoff && entry?.current?.id === effect.attemptId ? retryDelayMs(entry) : 0;
    if (delayMs > 0 && this.options.mode === 'live') {
      // Live: a timer, so the loop keeps stepping other tasks meanwhile (stop() clears it; restore re-arms it).
      if (this.stopped) return;
      const timer = setTimeout(() => {
        this.backoffTimers.delete(timer);
        // start reports an effect's failure to the host as an event; a rejection here means the host
        // has stopped, which whoever drives it reports (restore re-arms the retry).
        this.start(host, effect, true).catch((err: unknown) => this.logger.debug({ err, attemptId: effect.attemptId }, 'retry not started: the host has stopped'));
      }, delayMs);
      this.backoffTimers.add(timer);
      return;
    }
    if (delayMs > 0) {
      await (this.options.sleep ?? sleepMs)(delayMs);
      snapshot = host.state.attempts.get(effect.attemptId);
      if (snapshot === undefined || attemptPhase(snapshot) !== 'created') return;
    }
    const target = this.resolve(snapshot);
    if (target === undefined) {
      const reason = `no operator configured for key "${effect.operatorKey}" (configured: ${this.options.operators.keys().join(', ')})`;
      // Info, not warn: the failure is an event of the run's log, which status and explain show.
      this.logger.info({ attemptId: effect.attemptId, reason }, 'attempt not submitted');
      await host.send({ actor: effect.attemptId, event: { type: 'ATTEMPT.SUBMIT_FAILED', reason } });
      return;
    }
    if (!(await this.takeSlot(host, effect))) return;
    let event: AttemptEvent;
    try {
      await target.registered.operator.prepare(target.ctx);
      const submitted = await target.registered.operator.submit(target.ctx);
      event = {
        type: 'ATTEMPT.SUBMITTED',
        externalId: submitted.externalId,
        status: submitted.status,
        dir: target.ctx.attempt.dir,
        ...(submitted.operatorData !== undefined ? { operatorData: submitted.operatorData } : {}),
      };
    } catch (error) {
      operatorLog(target.ctx).info({ reason: errorMessage(error) }, 'attempt not submitted');
      event = { type: 'ATTEMPT.SUBMIT_FAILED', reason: errorMessage(error) };
    }
    const delivered = host.send({ actor: effect.attemptId, event });
    // Watched from the moment the operator took the work, not from when SUBMITTED is durable: a
    // report that comes at once then joins SUBMITTED's append (the mailbox keeps their order).
    // Watching only observes, so it needs no write-ahead (the watch effect finds it subscribed).
    if (event.type === 'ATTEMPT.SUBMITTED') this.subscribe(host, effect.attemptId, target);
    await delivered;
  }

  /**
   * True when the attempt may be submitted: it holds a slot of each shared pool that applies (its
   * operator's when capped, then the global one when configured; always in that order, so a
   * holder of a global slot holds everything it needs and no two attempts wait on each other).
   * Live, it waits in line (until the runner stops); stepped, it joins the line and the cycle
   * goes on: a later cycle finds the slot granted.
   */
  private async takeSlot(host: RunHost, effect: Extract<Effect, { type: 'attempt.start' }>): Promise<boolean> {
    const { slots, runId } = this.options;
    if (slots === undefined) return true;
    for (const pool of this.poolsOf(host, effect.operatorKey)) {
      if (slots.isHeld(pool.key, runId, effect.attemptId)) continue;
      const request = { runId, attemptId: effect.attemptId, cap: pool.cap };
      if (this.options.mode === 'step') {
        void slots.acquire(pool.key, request);
        return false;
      }
      if (!(await slots.acquire(pool.key, request, this.stopping.signal))) return false;
      const now = host.state.attempts.get(effect.attemptId);
      // Cancelled while it waited: the slots go back at once. Stopped: the next host of the run finds them held.
      if (now === undefined || attemptPhase(now) !== 'created') {
        await slots.cancel(runId, effect.attemptId);
        return false;
      }
      if (this.stopped) return false;
    }
    return true;
  }

  /** The shared pools an attempt on `operatorKey` takes a slot of, in the order it takes them. */
  private poolsOf(host: RunHost, operatorKey: string): { key: string; cap: number }[] {
    const pools: { key: string; cap: number }[] = [];
    const cap = this.capOf(host, operatorKey);
    if (cap !== undefined) pools.push({ key: operatorKey, cap });
    if (this.options.globalCap !== undefined) pools.push({ key: GLOBAL_POOL, cap: this.options.globalCap });
    return pools;
  }

  /** The operator's `max_concurrent` when it has one. */
  private capOf(host: RunHost, operatorKey: string): number | undefined {
    const cap = host.state.run?.context.operatorCaps[operatorKey];
    return typeof cap === 'number' ? cap : undefined;
  }

  /** Gives back the shared slots of attempts that are no longer running (called after each append). */
  releaseEndedSlots(host: RunHost): void {
    const { slots } = this.options;
    if (slots === undefined) return;
    for (const attemptId of slots.heldOf(this.options.runId)) {
      const snapshot = host.state.attempts.get(attemptId);
      if (snapshot !== undefined && (isWatchable(snapshot) || attemptPhase(snapshot) === 'created')) continue;
      void slots.cancel(this.options.runId, attemptId);
    }
  }

  private async watch(host: RunHost, attemptId: string): Promise<void> {
    const snapshot = host.state.attempts.get(attemptId);
    const { slots } = this.options;
    if (snapshot !== undefined && isWatchable(snapshot) && slots !== undefined) {
      // Running already (restored, or taken over from a dead host): it keeps the slots it had.
      for (const pool of this.poolsOf(host, snapshot.context.operatorKey)) await slots.adopt(pool.key, this.options.runId, attemptId);
    }
    const target = snapshot === undefined ? undefined : this.resolve(snapshot);
    if (target !== undefined) this.subscribe(host, attemptId, target);
  }

  /** Live mode: reports the attempt's changes as the operator pushes them (or on its poll interval) until it ends. */
  private subscribe(host: RunHost, attemptId: string, target: { registered: RegisteredOperator; ctx: OperatorContext }): void {
    if (this.options.mode !== 'live' || this.stopped || this.watchers.has(attemptId) || this.ending.has(attemptId)) return;
    const onChange = (result: PollResult): void => {
      const current = host.state.attempts.get(attemptId);
      // Still created: its SUBMITTED waits in the host's mailbox, ahead of this report.
      if (current === undefined || !(isWatchable(current) || attemptPhase(current) === 'created')) return this.unwatch(attemptId);
      const event = reportIfChanged(current, result);
      if (event === undefined) return;
      if (reportStartsCollecting(event.status)) {
        // The attempt's active life is over: no further report matters. Its results are collected
        // now and carried by the report, so the attempt ends collected in one transition and one
        // record (a separate collect effect waited for the report to be durable: one more fsync per
        // attempt). Collecting only reads what the attempt left, so it needs no write-ahead; after a
        // crash before the append, restore watches the attempt again and both are repeated.
        this.unwatch(attemptId);
        this.ending.add(attemptId);
        void collectedOutcome(target, event.status === 'COMPLETED')
          .then((results) => host.send({ actor: attemptId, event: { ...event, results } }))
          // A failed send halts the host (RunHost failure), which the drive reports; restore repeats report and collection.
          .catch((err: unknown) => operatorLog(target.ctx).debug({ err }, 'report not delivered: the host has stopped'))
          .finally(() => this.ending.delete(attemptId));
        return;
      }
      void host
        .send({ actor: attemptId, event })
        .then(() => {
          const after = host.state.attempts.get(attemptId);
          if (after === undefined || !isWatchable(after)) this.unwatch(attemptId);
        })
        // As above: a failed send halts the host and the drive reports it.
        .catch((err: unknown) => operatorLog(target.ctx).debug({ err }, 'report not delivered: the host has stopped'));
    };
    const { operator } = target.registered;
    if (operator.watch !== undefined) {
      this.watchers.set(attemptId, operator.watch(target.ctx, onChange));
      return;
    }
    const intervalMs = (target.registered.config.pollIntervalSeconds ?? 1) * 1000;
    // A failed poll is tried again on the next interval: told once when polling starts to fail, not every interval.
    let failing = false;
    const timer = setInterval(() => {
      operator.poll(target.ctx).then(
        (result) => {
          failing = false;
          onChange(result);
        },
        (err: unknown) => {
          operatorLog(target.ctx)[failing ? 'debug' : 'warn']({ err, intervalMs }, 'poll failed; polling again on the next interval');
          failing = true;
        },
      );
    }, intervalMs);
    this.watchers.set(attemptId, () => clearInterval(timer));
  }

  private unwatch(attemptId: string): void {
    this.watchers.get(attemptId)?.();
    this.watchers.delete(attemptId);
  }

  private async collect(host: RunHost, attemptId: string): Promise<void> {
    this.unwatch(attemptId);
    const snapshot = host.state.attempts.get(attemptId);
    // Not collecting any more: the results came with the report (the watcher collected them).
    if (snapshot === undefined || !isCollecting(snapshot)) return;
    const target = this.resolve(snapshot);
    const event: AttemptEvent =
      target === undefined
        ? { type: 'ATTEMPT.COLLECT_FAILED', reason: `no operator configured for key "${snapshot.context.operatorKey}"` }
        : await collectedOutcome(target, snapshot.context.status === 'COMPLETED');
    await host.send({ actor: attemptId, event });
  }

  private async cancel(host: RunHost, attemptId: string): Promise<void> {
    this.unwatch(attemptId);
    const snapshot = host.state.attempts.get(attemptId);
    if (snapshot === undefined) return;
    const target = this.resolve(snapshot);
    let event: AttemptEvent;
    try {
      const result = target === undefined ? { status: 'CANCELLED' as const } : await target.registered.operator.cancel(target.ctx);
      event =
        result.status === 'CANCELLED' || result.status === 'FAILED_INIT' || result.status === 'CREATED'
          ? { type: 'ATTEMPT.CANCELLED', ...(result.reason !== undefined ? { reason: result.reason } : {}) }
          : { type: 'OPERATOR.REPORTED', status: result.status, ...(result.reason !== undefined ? { reason: result.reason } : {}) };
    } catch (error) {
      this.logger.info({ attemptId, reason: errorMessage(error) }, 'cancel failed; the attempt is recorded as cancelled');
      event = { type: 'ATTEMPT.CANCELLED', reason: `cancel failed: ${errorMessage(error)}` };
    }
    await host.send({ actor: attemptId, event });
  }

  private async analyzeAndPlan(host: RunHost, effect: Extract<Effect, { type: 'campaign.analyzeAndPlan' }>): Promise<void> {
    const run = host.state.run;
    if (run === undefined || run.context.awaitingPlan !== effect.iteration + 1) return;
    const { campaign } = this.options;
    const results: Record<string, TaskResult> = {};
    for (const [taskId, summary] of Object.entries(effect.results)) {
      const attempt = summary.attemptId === null ? undefined : host.state.attempts.get(summary.attemptId);
      results[taskId] = {
        status: summary.status,
        ...(attempt?.context.files !== undefined ? { files: attempt.context.files } : {}),
        ...(attempt?.context.data !== undefined ? { data: attempt.context.data } : {}),
        ...(attempt?.context.decision !== undefined ? { decision: decisionResult(attempt.context.decision) } : {}),
      };
    }
    try {
      const { runId } = this.options;
      const state = await campaign.analyze(run.context.campaignState as JsonValue, results, { runId, iteration: effect.iteration });
      const raw = await campaign.plan(state, { runId, iteration: effect.iteration + 1 });
      const existingTaskIds = [...tasksInOrder(run.context)].map((entry) => entry.spec.id);
      const routing = taskRouting(run.context, (key) => this.options.operators.get(key)?.config);
      const workflow = raw === null ? null : validateWorkflow(raw, { existingTaskIds, source: `campaign ${campaign.name}`, routing });
      await host.send({ actor: 'run', event: { type: 'CAMPAIGN.PLANNED', iteration: effect.iteration + 1, workflow, state } });
    } catch (error) {
      // Stopped meanwhile (its worker was ended with the host): the effect is re-issued on restore.
      if (this.stopped) return;
      // The code stays in the reason: status and explain show whether the campaign failed or hung.
      const reason = isMatterStackError(error) ? `${error.code}: ${error.message}` : errorMessage(error);
      this.logger.info({ iteration: effect.iteration + 1, reason }, 'campaign failed');
      await host.send({ actor: 'run', event: { type: 'CAMPAIGN.FAILED', iteration: effect.iteration + 1, reason } });
    }
  }

  private resolve(snapshot: AttemptSnapshot): { registered: RegisteredOperator; ctx: OperatorContext } | undefined {
    const registered = this.options.operators.get(snapshot.context.operatorKey);
    if (registered === undefined) return undefined;
    const { runId, workspaceDir } = this.options;
    const { attemptId, taskId, task } = snapshot.context;
    this.runDir ??= runDirOf(workspaceDir, runId);
    const { logger } = this;
    let log: Logger | undefined;
    const ctx: OperatorContext = {
      runId,
      attempt: { attemptId, taskId, dir: attemptDirIn(this.runDir, taskId, attemptId) },
      task,
      workspaceDir,
      runDir: this.runDir,
      operatorKey: registered.key,
      config: registered.config,
      // Made on first use: a child logger costs ~6 µs, and most contexts never log (a fan-out starts 100k).
      get log(): Logger {
        log ??= logger.child({ operator: registered.key, attemptId });
        return log;
      },
    };
    return { registered, ctx };
  }
}

/** A timer of `ms` milliseconds. */
function sleepMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The attempt's results as the operator collects them, why they cannot be taken (including data of
 * a `completed` attempt that breaks its task's resultsSchema), or why collecting failed.
 */
async function collectedOutcome(target: { registered: RegisteredOperator; ctx: OperatorContext }, completed: boolean): Promise<CollectedOutcome> {
  try {
    const results = await target.registered.operator.collectResults(target.ctx);
    const schema = target.ctx.task.resultsSchema;
    const reason = results.reason ?? (completed && schema !== undefined ? resultsSchemaMismatch(schema, results.data) : undefined);
    if (reason !== undefined) return { type: 'ATTEMPT.RESULTS_INVALID', files: results.files, reason };
    return { type: 'ATTEMPT.RESULTS', files: results.files, ...(results.data !== undefined ? { data: results.data } : {}) };
  } catch (error) {
    operatorLog(target.ctx).info({ reason: errorMessage(error) }, 'results not collected');
    return { type: 'ATTEMPT.COLLECT_FAILED', reason: errorMessage(error) };
  }
}

/** Why a completed attempt's data breaks its task's resultsSchema (naming the field), or undefined when it matches. */
function resultsSchemaMismatch(schema: JsonObject, data: JsonValue | undefined): string | undefined {
  if (data === undefined) return 'no data (results.json, response): the task declares a resultsSchema';
  const mismatch = schemaMismatch(schema, data);
  return mismatch === null ? undefined : `${mismatch.field}: ${mismatch.message} (resultsSchema)`;
}

/** A gate attempt's decision as `analyze` receives it (its data is the result's `data`). */
function decisionResult({ data: _data, ...decision }: AttemptDecisionRecord): NonNullable<TaskResult['decision']> {
  return decision;
}

/** The report to deliver, or undefined when the operator saw no change (nothing is logged then). */
function reportIfChanged(snapshot: AttemptSnapshot, result: PollResult): Extract<AttemptEvent, { type: 'OPERATOR.REPORTED' }> | undefined {
  if (result.status === snapshot.context.status || result.status === 'CREATED') return undefined;
  const status = result.status === 'FAILED_INIT' ? 'FAILED' : result.status;
  return { type: 'OPERATOR.REPORTED', status, ...(result.reason !== undefined ? { reason: result.reason } : {}) };
}
