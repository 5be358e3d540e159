import { describe, expect, it } from 'vitest';
import { checkOperatorKey } from '../events/operator-key.ts';
import { getTask } from '../machines/run-context.ts';
import { given, toRun } from './harness/given-when-then.ts';
import { Harness } from './machines.harness.ts';

const t = (id: string, extra: Record<string, unknown> = {}) => ({ id, command: `run ${id}`, ...extra });

/** A run with `tasks` planned and one cycle done. */
function started(tasks: ReturnType<typeof t>[], options: ConstructorParameters<typeof Harness>[0] = {}): Harness {
  const h = new Harness(options);
  h.plan(tasks);
  h.step();
  return h;
}

describe('run lifecycle', () => {
  it('a created run is PENDING in state pending and adopts the first plan without starting', () => {
    const h = new Harness();
    expect(h.value).toBe('pending');
    h.plan([t('a')]);
    expect(h.value).toBe('pending');
    expect(h.ctx.status).toBe('PENDING');
    expect(h.lastChanges().map((c) => c.kind)).toEqual(['campaign.state', 'workflow.planned']);
  });

  it('the first RUN.STEP makes the run RUNNING and passes poll → plan → execute → analyze → waiting', () => {
    const h = new Harness();
    h.plan([t('a')]);
    const [p] = h.step();
    expect(p?.decision.from).toBe('pending');
    expect(p?.decision.to).toBe('waiting');
    expect(h.lastChanges()).toContainEqual({ kind: 'run.status', status: 'RUNNING' });
  });

  it('a first plan of null completes the run at once', () => {
    const h = new Harness();
    h.plan(null);
    expect(h.value).toBe('completed');
    expect(h.ctx.status).toBe('COMPLETED');
  });

  it('a terminal run does nothing when stepped (noop decision)', () => {
    const h = new Harness();
    h.plan(null);
    const [p] = h.step();
    expect(p?.decision.noop).toBe(true);
    expect(h.value).toBe('completed');
  });

  it('stepping a waiting run with nothing new is a noop (the log grows with changes, not with time)', () => {
    const h = started([t('a')]);
    const [p] = h.step();
    expect(p?.decision.noop).toBe(true);
  });
});

describe('readiness (SPEC §3 PLAN)', () => {
  it('a task waits until every dependency is COMPLETED', () => {
    const h = started([t('a'), t('b'), t('c', { dependencies: ['a', 'b'] })]);
    expect(h.active()).toEqual(['a-a1', 'b-a1']);
    h.complete('a-a1');
    h.step();
    expect(h.active()).toEqual(['b-a1']);
    h.complete('b-a1');
    h.step();
    expect(h.active()).toEqual(['c-a1']);
  });

  it('dependencies may name tasks of earlier workflows', () => {
    const h = started([t('a')]);
    h.complete('a-a1');
    h.step();
    h.plan([t('x', { dependencies: ['a'] }), t('y', { dependencies: ['x'] })], 1, { round: 1 });
    expect(h.active()).toEqual(['x-a1']);
    expect(h.status('y')).toBe('PENDING');
  });

  it('allowDependencyFailure lets a task run once its dependencies are terminal, failed or not', () => {
    const h = started([t('a', { allowFailure: true }), t('b', { dependencies: ['a'], allowDependencyFailure: true })]);
    h.complete('a-a1', 'FAILED');
    h.step();
    expect(h.active()).toEqual(['b-a1']);
  });

  it('allowDependencyFailure still waits while a dependency is running', () => {
    const h = started([t('a'), t('b', { dependencies: ['a'], allowDependencyFailure: true })]);
    h.start('a-a1');
    h.step();
    expect(h.active()).toEqual(['a-a1']);
  });
});

describe('failure propagation', () => {
  it('better than the original: dependants of a failed task become SKIPPED instead of PENDING forever', () => {
    const h = started([t('a'), t('b', { dependencies: ['a'] }), t('c', { dependencies: ['b'] }), t('d')]);
    h.complete('a-a1', 'FAILED');
    h.step();
    expect(h.status('b')).toBe('SKIPPED');
    expect(h.status('c')).toBe('SKIPPED');
    expect(h.task('b').reason).toBe('dependency a is FAILED');
    expect(h.lastChanges()).toContainEqual({ kind: 'task.status', taskId: 'c', status: 'SKIPPED', reason: 'dependency b is SKIPPED' });
  });

  it('the run fails only once nothing else can progress, with the failed tasks in the reason', () => {
    const h = started([t('a'), t('d')]);
    h.complete('a-a1', 'FAILED');
    h.step();
    expect(h.value).toBe('waiting'); // d still running
    h.complete('d-a1');
    h.step();
    expect(h.value).toBe('failed');
    expect(h.ctx.reason).toBe('failed tasks: a (FAILED)');
    expect(h.lastChanges()).toContainEqual({ kind: 'run.status', status: 'FAILED', reason: 'failed tasks: a (FAILED)' });
  });

  it('a task with allowFailure does not fail the run; its plain dependants are SKIPPED and the workflow is analyzed', () => {
    const h = started([t('a', { allowFailure: true }), t('b', { dependencies: ['a'] })]);
    h.complete('a-a1', 'FAILED');
    h.step();
    expect(h.status('b')).toBe('SKIPPED');
    expect(h.value).toEqual({ analyze: 'awaitingCampaign' });
  });

  it('a CANCELLED task without allowFailure is a hard failure', () => {
    const h = started([t('a')]);
    h.start('a-a1');
    h.run({ type: 'CMD.CANCEL_ATTEMPT', attemptId: 'a-a1' });
    h.attempt('a-a1', { type: 'ATTEMPT.CANCELLED' });
    h.step();
    expect(h.value).toBe('failed');
    expect(h.ctx.reason).toContain('a (CANCELLED');
  });
});

describe('execute: slots and order', () => {
  const many = (n: number, extra: Record<string, unknown> = {}) => Array.from({ length: n }, (_, i) => t(`t${i}`, extra));

  it('the global cap defaults to 10 active attempts', () => {
    const h = started(many(15));
    expect(h.active()).toHaveLength(10);
  });

  it('dispatch follows workflow order, also for integer-like ids', () => {
    const h = started([t('20'), t('3'), t('b'), t('1')], { maxConcurrent: 3 });
    expect(h.active()).toEqual(['20-a1', '3-a1', 'b-a1']);
  });

  it('a finished attempt frees its global slot for the next task in order', () => {
    const h = started(many(4), { maxConcurrent: 2 });
    expect(h.active()).toEqual(['t0-a1', 't1-a1']);
    h.complete('t1-a1');
    h.step();
    expect(h.active()).toEqual(['t0-a1', 't2-a1']);
  });

  it('an operator at its own cap waits while later tasks of other operators go ahead', () => {
    const h = started(
      [t('h1', { operatorKey: 'hpc.default' }), t('h2', { operatorKey: 'hpc.default' }), t('l1')],
      { operatorCaps: { 'hpc.default': 1 } },
    );
    expect(h.active()).toEqual(['h1-a1', 'l1-a1']);
    h.complete('h1-a1');
    h.step();
    expect(h.active()).toEqual(['h2-a1', 'l1-a1']);
  });

  it('maxConcurrent null means unlimited', () => {
    const h = started(many(25), { maxConcurrent: null });
    expect(h.active()).toHaveLength(25);
  });

  it('1,000 reports then one RUN.STEP make one pass through the phases', () => {
    const h = started(many(1000), { maxConcurrent: null });
    for (let i = 0; i < 1000; i++) h.complete(`t${i}-a1`);
    const reportsToRun = h.processed.filter((p) => p.actor === 'run' && p.event.type === 'ATTEMPT.REPORTED');
    expect(reportsToRun.every((p) => p.decision.from === 'waiting' && p.decision.to === 'waiting')).toBe(true);
    const cycle = h.step();
    expect(cycle).toHaveLength(1);
    expect(cycle[0]?.decision.to).toEqual({ analyze: 'awaitingCampaign' });
  });
});

describe('operator routing (SPEC §2)', () => {
  const routed = (task: Record<string, unknown>, options: ConstructorParameters<typeof Harness>[0] = {}) => {
    const h = started([t('x', task)], options);
    return h.task('x').current?.operatorKey;
  };

  it('task operatorKey wins over env, kind and default', () => {
    expect(routed({ kind: 'gate', operatorKey: 'hpc.default' }, { envOperator: 'local.default' })).toBe('hpc.default');
  });
  it('env MATTERSTACK_OPERATOR wins over kind and the workspace default', () => {
    expect(routed({ kind: 'gate' }, { envOperator: 'hpc.default' })).toBe('hpc.default');
  });
  it('kind routes gate → human.default and external → experiment.default', () => {
    expect(routed({ kind: 'gate' })).toBe('human.default');
    expect(routed({ kind: 'external' })).toBe('experiment.default');
  });
  it('a compute task without key goes to the workspace default', () => {
    expect(routed({}, { defaultOperator: 'hpc.default' })).toBe('hpc.default');
    expect(routed({})).toBe('local.default');
  });
  it('legacy names map case-insensitively to <kind>.default', () => {
    expect(routed({ operatorKey: 'HPC' })).toBe('hpc.default');
    expect(routed({ operatorKey: ' local ' })).toBe('local.default');
    expect(routed({ operatorKey: 'Human' })).toBe('human.default');
    expect(routed({ operatorKey: 'EXPERIMENT' })).toBe('experiment.default');
  });
  it('keys are validated: kind.name, lower-cased, no whitespace, no ..', () => {
    expect(checkOperatorKey(' HPC.Cluster_A ')).toEqual({ ok: true, key: 'hpc.cluster_a' });
    expect(checkOperatorKey('cluster').ok).toBe(false); // not a legacy name, no dot
    expect(checkOperatorKey('hpc.a b').ok).toBe(false);
    expect(checkOperatorKey('hpc.a..b').ok).toBe(false);
    expect(checkOperatorKey('1hpc.a').ok).toBe(false);
    expect(checkOperatorKey('hpc._a').ok).toBe(false);
  });
  it('an unknown operator key creates the attempt FAILED_INIT with a reason naming the key and the configured keys', () => {
    const h = started([t('x', { operatorKey: 'slurm.big' })], { configuredOperators: ['local.default'] });
    const reason = 'no operator configured for key "slurm.big"; configured operators: local.default';
    expect(h.task('x').current).toEqual({ id: 'x-a1', operatorKey: 'slurm.big', status: 'FAILED_INIT' });
    expect(h.status('x')).toBe('FAILED');
    expect(h.active()).toEqual([]);
    const attempt = h.system.attempts.get('x-a1');
    expect(attempt?.value).toBe('failed_init');
    expect(h.processed.flatMap((p) => p.decision.changes)).toContainEqual({ kind: 'attempt.status', attemptId: 'x-a1', status: 'FAILED_INIT', reason });
    expect(h.value).toBe('failed');
    expect(h.effects.some((e) => e.effect.type === 'attempt.start')).toBe(false);
  });
  it('an invalid key is FAILED_INIT too, with the validation error', () => {
    const h = started([t('x', { operatorKey: 'not a key' })]);
    expect(h.task('x').reason).toContain('contains whitespace');
  });
});

describe('analyze', () => {
  it('when every task is terminal without hard failure, one analyzeAndPlan effect carries the results of the current workflow', () => {
    const h = started([t('a'), t('b', { allowFailure: true })]);
    h.complete('a-a1');
    h.complete('b-a1', 'FAILED');
    h.step();
    expect(h.lastEffects()).toEqual([
      { type: 'campaign.analyzeAndPlan', iteration: 0, results: { a: { status: 'COMPLETED', attemptId: 'a-a1' }, b: { status: 'FAILED', attemptId: 'b-a1' } } },
    ]);
    h.step(); // awaiting the campaign: no second request
    expect(h.lastEffects()).toEqual([]);
  });

  it('results list only the current workflow', () => {
    const h = started([t('a')]);
    h.complete('a-a1');
    h.step();
    h.plan([t('b')], 1, {});
    h.complete('b-a1');
    h.step();
    const effect = h.lastEffects()[0];
    expect(effect?.type === 'campaign.analyzeAndPlan' && Object.keys(effect.results)).toEqual(['b']);
  });

  it('a plan of null completes the run; a new workflow starts the next iteration and dispatches at once', () => {
    const h = started([t('a')]);
    h.complete('a-a1');
    h.step();
    h.plan([t('b')], 1, { s: 1 });
    expect(h.ctx.iteration).toBe(1);
    expect(h.active()).toEqual(['b-a1']);
    h.complete('b-a1');
    h.step();
    h.plan(null, 2, { s: 2 });
    expect(h.value).toBe('completed');
    expect(h.ctx.campaignState).toEqual({ s: 2 });
  });

  it('a plan returning only already-existing task ids fails the run with an error naming the ids', () => {
    const h = started([t('a'), t('b')]);
    h.complete('a-a1');
    h.complete('b-a1');
    h.step();
    h.plan([t('a'), t('b')], 1, {});
    expect(h.value).toBe('failed');
    expect(h.ctx.reason).toContain('only already-existing task ids: a, b');
  });

  it('a workflow with an unknown dependency or a cycle is refused with a reason', () => {
    const h1 = new Harness();
    h1.plan([t('a', { dependencies: ['zz'] })]);
    expect(h1.ctx.reason).toContain('depends on unknown task zz');
    const h2 = new Harness();
    h2.plan([t('a', { dependencies: ['b'] }), t('b', { dependencies: ['a'] })]);
    expect(h2.ctx.reason).toContain('dependency cycle: a -> b -> a');
  });

  it('given a started run, when a stale CAMPAIGN.PLANNED (wrong iteration) arrives, then nothing changes', () => {
    given(...started([t('a')]).log())
      .when(toRun({ type: 'CAMPAIGN.PLANNED', iteration: 5, workflow: { tasks: [t('z')] }, state: {} }))
      .thenNothing();
  });

  it('CAMPAIGN.FAILED while analyzing fails the run with the reason', () => {
    const h = started([t('a')]);
    h.complete('a-a1');
    h.step();
    h.run({ type: 'CAMPAIGN.FAILED', reason: 'analyze threw' });
    expect(h.value).toBe('failed');
    expect(h.ctx.reason).toBe('campaign failed: analyze threw');
  });
});

describe('commands: accepted', () => {
  it('pause stops new dispatch but attempts keep being tracked; resume dispatches again', () => {
    const h = started([t('a'), t('b', { dependencies: ['a'] })]);
    h.run({ type: 'CMD.PAUSE', by: 'ana' });
    expect(h.commandChanges()).toEqual([{ kind: 'command', verb: 'pause', accepted: true, by: 'ana' }]);
    expect(h.value).toBe('paused');
    h.complete('a-a1');
    expect(h.status('a')).toBe('COMPLETED');
    h.step();
    expect(h.active()).toEqual([]);
    h.run({ type: 'CMD.RESUME' });
    expect(h.ctx.status).toBe('RUNNING');
    h.step();
    expect(h.active()).toEqual(['b-a1']);
  });

  it('cancel sends ATTEMPT.CANCEL to every active attempt and the run is CANCELLED at once; the attempts end through their operator', () => {
    const h = started([t('a'), t('b')]);
    h.start('a-a1');
    h.run({ type: 'CMD.CANCEL', by: 'ana' });
    expect(h.value).toBe('cancelled');
    expect(h.ctx.reason).toBe('cancelled by ana');
    expect(h.lastEffects()).toEqual([
      { type: 'attempt.cancel', attemptId: 'a-a1', operatorKey: 'local.default' },
      { type: 'attempt.cancel', attemptId: 'b-a1', operatorKey: 'local.default' },
    ]);
    // b was not yet submitted: its actor is CANCELLED at once (the cancel effect aborts a start in flight).
    expect(h.status('b')).toBe('CANCELLED');
    expect(h.active()).toEqual(['a-a1']);
    h.attempt('a-a1', { type: 'ATTEMPT.CANCELLED' });
    expect(h.status('a')).toBe('CANCELLED'); // still tracked after the run is terminal
    expect(h.active()).toEqual([]);
  });

  it('rerun creates attempt <task>-a<n+1>, keeps the earlier one and returns a FAILED run to RUNNING', () => {
    const h = started([t('a')]);
    h.complete('a-a1', 'FAILED');
    h.step();
    expect(h.value).toBe('failed');
    h.run({ type: 'CMD.RERUN', taskId: 'a' });
    expect(h.commandChanges()).toEqual([{ kind: 'command', verb: 'rerun', accepted: true, target: 'a' }]);
    expect(h.ctx.status).toBe('RUNNING');
    h.step();
    expect(h.active()).toEqual(['a-a2']);
    expect(h.system.attempts.get('a-a1')?.context.status).toBe('FAILED');
  });

  it('rerun of a COMPLETED run task returns the run to RUNNING and the campaign analyzes again', () => {
    const h = started([t('a')]);
    h.complete('a-a1');
    h.step();
    h.plan(null, 1, {});
    h.run({ type: 'CMD.RERUN', taskId: 'a' });
    expect(h.ctx.status).toBe('RUNNING');
    h.step();
    h.complete('a-a2');
    h.step();
    expect(h.lastEffects()[0]).toMatchObject({ type: 'campaign.analyzeAndPlan', iteration: 0 });
  });

  it('rerun without recursive leaves finished dependants alone but un-skips the SKIPPED ones', () => {
    const h = started([t('a', { allowFailure: true }), t('b', { dependencies: ['a'] }), t('c', { dependencies: ['a'], allowDependencyFailure: true })]);
    h.complete('a-a1', 'FAILED');
    h.step();
    h.complete('c-a1');
    h.step();
    h.plan(null, 1, {});
    expect(h.allStatuses()).toEqual({ a: 'FAILED', b: 'SKIPPED', c: 'COMPLETED' });
    h.run({ type: 'CMD.RERUN', taskId: 'a' });
    expect(h.allStatuses()).toEqual({ a: 'PENDING', b: 'PENDING', c: 'COMPLETED' });
  });

  it('rerun --recursive also reruns the finished dependants', () => {
    const h = started([t('a'), t('b', { dependencies: ['a'] })]);
    h.complete('a-a1');
    h.step();
    h.complete('b-a1');
    h.step();
    h.plan(null, 1, {});
    h.run({ type: 'CMD.RERUN', taskId: 'a', recursive: true });
    expect(h.allStatuses()).toEqual({ a: 'PENDING', b: 'PENDING' });
    h.step();
    expect(h.active()).toEqual(['a-a2']);
  });

  it('cancel-attempt cancels one attempt through its actor', () => {
    const h = started([t('a'), t('b')]);
    h.start('a-a1');
    h.run({ type: 'CMD.CANCEL_ATTEMPT', attemptId: 'a-a1' });
    expect(h.lastEffects()).toEqual([{ type: 'attempt.cancel', attemptId: 'a-a1', operatorKey: 'local.default' }]);
    expect(h.system.attempts.get('a-a1')?.value).toBe('cancelling');
  });

  it('approve completes the gate through its active attempt; reject fails it with the comment as reason', () => {
    const h = started([t('g', { kind: 'gate', message: 'ok?' }), t('k', { kind: 'gate' })]);
    h.start('g-a1', 'WAITING_EXTERNAL');
    h.start('k-a1', 'WAITING_EXTERNAL');
    h.run({ type: 'CMD.APPROVE', taskId: 'g', by: 'pi' });
    expect(h.system.attempts.get('g-a1')?.value).toEqual({ completed: 'collecting' });
    h.attempt('g-a1', { type: 'ATTEMPT.RESULTS', files: {} });
    expect(h.status('g')).toBe('COMPLETED');
    h.run({ type: 'CMD.REJECT', taskId: 'k', comment: 'bad sample' });
    h.attempt('k-a1', { type: 'ATTEMPT.RESULTS', files: {} });
    expect(h.status('k')).toBe('FAILED');
    expect(h.task('k').reason).toBe('bad sample');
  });

  it('revive reruns the hard-failed and SKIPPED tasks of a FAILED run', () => {
    const h = started([t('a'), t('b', { dependencies: ['a'] }), t('c')]);
    h.complete('a-a1', 'FAILED');
    h.complete('c-a1');
    h.step();
    expect(h.value).toBe('failed');
    h.run({ type: 'CMD.REVIVE' });
    expect(h.ctx.status).toBe('RUNNING');
    expect(h.ctx.reason).toBeNull();
    expect(h.allStatuses()).toEqual({ a: 'PENDING', b: 'PENDING', c: 'COMPLETED' });
    h.step();
    expect(h.active()).toEqual(['a-a2']);
  });

  it('revive of a run cancelled while the campaign analyzed asks the campaign again', () => {
    const h = started([t('a')]);
    h.complete('a-a1');
    h.step();
    h.run({ type: 'CMD.CANCEL' });
    h.run({ type: 'CMD.REVIVE' });
    h.step();
    expect(h.lastEffects()[0]).toMatchObject({ type: 'campaign.analyzeAndPlan', iteration: 0 });
  });
});

describe('commands: rejected with a stable code, recorded, never silently ignored', () => {
  const rejected = (h: Harness) => {
    const [change] = h.commandChanges();
    expect(change?.accepted).toBe(false);
    return change?.code;
  };

  it('pause of a paused run → ALREADY_PAUSED; of a terminal run → RUN_TERMINAL', () => {
    const h = started([t('a')]);
    h.run({ type: 'CMD.PAUSE' });
    h.run({ type: 'CMD.PAUSE' });
    expect(rejected(h)).toBe('ALREADY_PAUSED');
    const done = new Harness();
    done.plan(null);
    done.run({ type: 'CMD.PAUSE' });
    expect(rejected(done)).toBe('RUN_TERMINAL');
  });

  it('resume of a running run → NOT_PAUSED, and the rejection is logged with the run state unchanged', () => {
    const h = started([t('a')]);
    const [p] = h.run({ type: 'CMD.RESUME', by: 'bo' });
    expect(h.commandChanges()).toEqual([
      { kind: 'command', verb: 'resume', accepted: false, code: 'NOT_PAUSED', reason: 'the run is RUNNING, not PAUSED', by: 'bo' },
    ]);
    expect(p?.decision.noop).toBe(false);
    expect(p?.decision.to).toBe('waiting');
  });

  it('cancel of a cancelled run → RUN_TERMINAL', () => {
    const h = started([t('a')]);
    h.run({ type: 'CMD.CANCEL' });
    h.run({ type: 'CMD.CANCEL' });
    expect(rejected(h)).toBe('RUN_TERMINAL');
  });

  it('revive of a running or completed run → RUN_NOT_TERMINAL', () => {
    const h = started([t('a')]);
    h.run({ type: 'CMD.REVIVE' });
    expect(rejected(h)).toBe('RUN_NOT_TERMINAL');
  });

  it('rerun: unknown task, active task, never-run task, cancelled run, while analyzing', () => {
    const h = started([t('a'), t('b', { dependencies: ['a'] })]);
    h.run({ type: 'CMD.RERUN', taskId: 'nope' });
    expect(rejected(h)).toBe('TASK_NOT_FOUND');
    h.run({ type: 'CMD.RERUN', taskId: 'a' });
    expect(rejected(h)).toBe('TASK_ACTIVE');
    h.run({ type: 'CMD.RERUN', taskId: 'b' });
    expect(rejected(h)).toBe('TASK_NOT_RERUNNABLE');
    h.complete('a-a1');
    h.step();
    h.run({ type: 'CMD.RERUN', taskId: 'a', recursive: true });
    expect(rejected(h)).toBe('TASK_ACTIVE'); // b is running
    h.complete('b-a1');
    h.step();
    h.run({ type: 'CMD.RERUN', taskId: 'a' });
    expect(rejected(h)).toBe('RUN_ANALYZING');
    h.run({ type: 'CMD.CANCEL' });
    h.run({ type: 'CMD.RERUN', taskId: 'a' });
    expect(rejected(h)).toBe('RUN_TERMINAL');
  });

  it('cancel-attempt: unknown attempt → ATTEMPT_NOT_FOUND, ended attempt → ATTEMPT_NOT_ACTIVE', () => {
    const h = started([t('a'), t('b')]);
    h.run({ type: 'CMD.CANCEL_ATTEMPT', attemptId: 'a-a7' });
    expect(rejected(h)).toBe('ATTEMPT_NOT_FOUND');
    h.complete('a-a1');
    h.run({ type: 'CMD.CANCEL_ATTEMPT', attemptId: 'a-a1' });
    expect(rejected(h)).toBe('ATTEMPT_NOT_ACTIVE');
  });

  it('approve: not a gate → NOT_A_GATE; gate not yet waiting → GATE_NOT_WAITING; unknown → TASK_NOT_FOUND', () => {
    const h = started([t('a'), t('g', { kind: 'gate' })]);
    h.run({ type: 'CMD.APPROVE', taskId: 'a' });
    expect(rejected(h)).toBe('NOT_A_GATE');
    h.run({ type: 'CMD.REJECT', taskId: 'g' });
    expect(rejected(h)).toBe('GATE_NOT_WAITING'); // created, not yet submitted
    h.run({ type: 'CMD.APPROVE', taskId: 'zz' });
    expect(rejected(h)).toBe('TASK_NOT_FOUND');
  });

  describe('a gate takes exactly one decision', () => {
    /** A run whose gate g waits for a human. */
    const waitingGate = (): Harness => {
      const h = started([t('g', { kind: 'gate' }), t('after', { dependencies: ['g'] })]);
      h.start('g-a1', 'WAITING_EXTERNAL');
      return h;
    };
    const pairs = [
      ['CMD.APPROVE', 'CMD.REJECT', 'approved'],
      ['CMD.REJECT', 'CMD.APPROVE', 'rejected'],
      ['CMD.APPROVE', 'CMD.APPROVE', 'approved'],
      ['CMD.REJECT', 'CMD.REJECT', 'rejected'],
    ] as const;

    it.each(pairs)('given %s accepted and not yet collected, when %s arrives, then it is GATE_ALREADY_DECIDED naming the first', (first, second, verb) => {
      const h = waitingGate();
      h.run({ type: first, taskId: 'g', by: 'alice' });
      expect(h.commandChanges()[0]?.accepted).toBe(true);
      // The attempt has not reported yet: the run still sees the gate WAITING_EXTERNAL.
      expect(h.status('g')).toBe('WAITING_EXTERNAL');
      const [p] = h.run({ type: second, taskId: 'g', by: 'bob' });
      expect(h.commandChanges()).toEqual([
        {
          kind: 'command',
          verb: second === 'CMD.APPROVE' ? 'approve' : 'reject',
          accepted: false,
          code: 'GATE_ALREADY_DECIDED',
          reason: `gate g was already ${verb} by alice (attempt g-a1)`,
          target: 'g',
          by: 'bob',
        },
      ]);
      expect(h.last.map((x) => x.actor)).toEqual(['run']); // nothing routed to the attempt
      expect(p?.decision.noop).toBe(false); // the refusal is recorded
      h.attempt('g-a1', { type: 'ATTEMPT.RESULTS', files: {} });
      expect(h.status('g')).toBe(first === 'CMD.APPROVE' ? 'COMPLETED' : 'FAILED');
    });

    it('given a decided gate whose attempt reported, when another decision arrives, then it is still GATE_ALREADY_DECIDED', () => {
      const h = waitingGate();
      h.run({ type: 'CMD.REJECT', taskId: 'g' });
      h.attempt('g-a1', { type: 'ATTEMPT.RESULTS', files: {} });
      expect(h.status('g')).toBe('FAILED');
      h.run({ type: 'CMD.APPROVE', taskId: 'g', by: 'bob' });
      expect(rejected(h)).toBe('GATE_ALREADY_DECIDED');
      expect(h.commandChanges()[0]?.reason).toBe('gate g was already rejected (attempt g-a1)');
    });

    it('given a gate with an inputSchema, an approve whose data breaks it is GATE_DATA_INVALID naming the field and changes nothing; a matching one carries its data to the attempt', () => {
      const inputSchema = { type: 'object', properties: { batch: { type: 'string' } }, required: ['batch'] };
      const h = started([t('g', { kind: 'gate', inputSchema })]);
      h.start('g-a1', 'WAITING_EXTERNAL');
      const refused = given(...h.log())
        .when(toRun({ type: 'CMD.APPROVE', taskId: 'g', by: 'alice', data: { batch: 7 } }))
        .then([{ kind: 'command', verb: 'approve', accepted: false, code: 'GATE_DATA_INVALID', reason: expect.stringMatching(/^data\.batch: .* \(inputSchema of gate g\)$/), target: 'g', by: 'alice' }]);
      expect([refused.messages, refused.effects]).toEqual([[], []]);
      expect(getTask(refused.snapshot.context, 'g')).toStrictEqual(h.task('g'));
      h.run({ type: 'CMD.APPROVE', taskId: 'g', by: 'alice', comment: 'ok', data: { batch: 'B7' } });
      expect(h.commandChanges()[0]?.accepted).toBe(true);
      const decided = h.last.find((x) => x.actor === 'g-a1');
      expect(decided?.decision.changes).toContainEqual({ kind: 'attempt.decision', attemptId: 'g-a1', verb: 'approved', by: 'alice', comment: 'ok', data: { batch: 'B7' } });
      h.attempt('g-a1', { type: 'ATTEMPT.RESULTS', files: {} });
      expect(h.lastChanges()).toContainEqual({ kind: 'attempt.results', attemptId: 'g-a1', files: {}, data: { batch: 'B7' } });
      expect(h.status('g')).toBe('COMPLETED');
    });

    it('given a decided gate, when it is rerun, then its new attempt takes a new decision', () => {
      const h = waitingGate();
      h.run({ type: 'CMD.REJECT', taskId: 'g', by: 'alice' });
      h.attempt('g-a1', { type: 'ATTEMPT.RESULTS', files: {} });
      h.step();
      h.run({ type: 'CMD.REVIVE' });
      h.step();
      expect(h.active()).toEqual(['g-a2']);
      h.start('g-a2', 'WAITING_EXTERNAL');
      h.run({ type: 'CMD.APPROVE', taskId: 'g', by: 'bob' });
      expect(h.commandChanges()[0]?.accepted).toBe(true);
      h.run({ type: 'CMD.REJECT', taskId: 'g', by: 'alice' });
      expect(h.commandChanges()[0]?.reason).toBe('gate g was already approved by bob (attempt g-a2)');
    });
  });
});
