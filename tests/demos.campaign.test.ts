/**
 * The four demo campaigns, driven without the orchestrator: plan → validate → really execute
 * every task (compute tasks as child processes in a temp attempt dir with their files staged;
 * gates answered through approved.txt / rejected.txt via the human operator; experiments
 * answered by the demo's robot.mjs via the experiment operator) → analyze → plan… until null.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { TaskResult } from '../campaign/campaign.ts';
import { loadCampaign } from '../campaign/load-campaign.ts';
import { validateWorkflow } from '../campaign/validate-workflow.ts';
import { parseOperatorsConfig, type OperatorEntry } from '../workspace/operators-config.ts';
import { ExperimentOperator } from '../operators/experiment-operator.ts';
import { HumanOperator } from '../operators/human-operator.ts';
import type { Operator, OperatorContext } from '../operators/operator.ts';
import { prepareAttemptDir } from '../operators/prepare-attempt-dir.ts';
import type { JsonValue } from '../events/json.ts';
import type { TaskSpec, Workflow } from '../events/workflow.ts';

const DEMOS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'workspaces', 'demos');
const DEMOS = ['battery_screening', 'coatings_active_learning', 'thin_film_lab', 'catalyst_human_in_loop'] as const;
const ROBOT = path.join(DEMOS_DIR, 'thin_film_lab', 'robot.mjs');

const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(argv: readonly string[], cwd: string, env: Record<string, string> = {}): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Files a task produced (relative path → absolute), staged inputs and bookkeeping included. */
function listFiles(dir: string, prefix = ''): Record<string, string> {
  const files: Record<string, string> = {};
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) Object.assign(files, listFiles(path.join(dir, entry.name), rel));
    else files[rel] = path.join(dir, entry.name);
  }
  return files;
}

type GateAnswer = 'approve' | 'reject';

/** One fake run of a demo: a temp run directory, the attempt contexts and the accumulated ids. */
class DemoRun {
  readonly runId = 'demo_run';
  readonly runDir: string;
  readonly workspaceDir: string;
  readonly workflows: Workflow[] = [];
  readonly taskIds = new Set<string>();
  readonly taskResults: Record<string, TaskResult> = {};
  readonly attemptDirs: Record<string, string> = {};

  constructor(
    demo: string,
    private readonly gateAnswer: GateAnswer = 'approve',
  ) {
    this.workspaceDir = path.join(DEMOS_DIR, demo);
    const root = mkdtempSync(path.join(tmpdir(), `ms-demo-${demo}-`));
    tempDirs.push(root);
    this.runDir = path.join(root, 'runs', this.runId);
  }

  private context(task: TaskSpec, operatorKey: string, config: OperatorEntry): OperatorContext {
    const attemptId = `${task.id}-a1`;
    const dir = path.join(this.runDir, 'attempts', task.id, attemptId);
    this.attemptDirs[task.id] = dir;
    return { runId: this.runId, attempt: { attemptId, taskId: task.id, dir }, task, workspaceDir: this.workspaceDir, runDir: this.runDir, operatorKey, config };
  }

  /** A compute task: stage its files, run its command in the attempt dir, read results.json. */
  private async compute(task: TaskSpec): Promise<TaskResult> {
    const ctx = this.context(task, 'local.default', { kind: 'local', backend: { type: 'local', dry_run: false }, maxConcurrent: null });
    await prepareAttemptDir(ctx);
    const command = task.command ?? [];
    const argv = typeof command === 'string' ? ['/bin/sh', '-c', command] : command;
    const exit = await run(argv, ctx.attempt.dir, task.env ?? {});
    writeFileSync(path.join(ctx.attempt.dir, 'stdout.log'), exit.stdout);
    writeFileSync(path.join(ctx.attempt.dir, 'stderr.log'), exit.stderr);
    const resultsFile = path.join(ctx.attempt.dir, 'results.json');
    const data = existsSync(resultsFile) ? (JSON.parse(readFileSync(resultsFile, 'utf8')) as JsonValue) : undefined;
    const result: TaskResult = { status: exit.code === 0 ? 'COMPLETED' : 'FAILED', files: listFiles(ctx.attempt.dir) };
    if (data !== undefined) result.data = data;
    return result;
  }

  /** A gate or experiment: the real file-based operator, answered by `answer` (a person / the robot). */
  private async handOff(task: TaskSpec, operator: Operator, ctx: OperatorContext, answer: () => Promise<void>): Promise<TaskResult> {
    await operator.prepare(ctx);
    expect((await operator.submit(ctx)).status).toBe('WAITING_EXTERNAL');
    await answer();
    const polled = await operator.poll(ctx);
    const collected = await operator.collectResults(ctx);
    const result: TaskResult = { status: polled.status, files: collected.files };
    if (collected.data !== undefined) result.data = collected.data;
    return result;
  }

  private async execute(task: TaskSpec): Promise<TaskResult> {
    if (task.kind === 'gate') {
      const ctx = this.context(task, 'human.default', { kind: 'human', backend: null, maxConcurrent: null });
      const file = this.gateAnswer === 'approve' ? 'approved.txt' : 'rejected.txt';
      return this.handOff(task, new HumanOperator(), ctx, async () => writeFileSync(path.join(ctx.attempt.dir, file), `${this.gateAnswer}d by the test\n`));
    }
    if (task.kind === 'external') {
      const ctx = this.context(task, task.operatorKey ?? 'experiment.default', { kind: 'experiment', backend: null, maxConcurrent: null });
      return this.handOff(task, new ExperimentOperator(), ctx, async () => {
        const exit = await run(['node', ROBOT, path.dirname(this.runDir), '--once'], this.workspaceDir);
        expect(exit.code, exit.stderr).toBe(0);
      });
    }
    return this.compute(task);
  }

  /** Runs a workflow level by level (ready tasks in parallel); a failed dependency skips its dependants. */
  async runWorkflow(workflow: Workflow): Promise<Record<string, TaskResult>> {
    const results: Record<string, TaskResult> = {};
    const pending = [...workflow.tasks];
    const settled = (id: string): boolean => id in results || (!pending.some((t) => t.id === id) && this.taskResults[id] !== undefined);
    while (pending.length > 0) {
      const ready = pending.filter((t) => t.dependencies.every(settled));
      expect(ready.length, 'a workflow with unrunnable tasks').toBeGreaterThan(0);
      await Promise.all(
        ready.map(async (task) => {
          pending.splice(pending.indexOf(task), 1);
          const depsOk = task.dependencies.every((d) => (results[d] ?? this.taskResults[d])?.status === 'COMPLETED');
          results[task.id] = depsOk || task.allowDependencyFailure ? await this.execute(task) : { status: 'SKIPPED' };
        }),
      );
    }
    Object.assign(this.taskResults, results);
    return results;
  }

  /** plan / validate / execute / analyze until the campaign returns null (or a task fails the run). */
  async drive(maxIterations = 10): Promise<{ state: JsonValue | null; failed: boolean }> {
    const campaign = await loadCampaign(this.workspaceDir);
    let state: JsonValue | null = null;
    for (let i = 0; i < maxIterations; i += 1) {
      const raw = await campaign.plan(state);
      if (raw === null) return { state, failed: false };
      const workflow = validateWorkflow(raw, { existingTaskIds: this.taskIds, source: campaign.name });
      for (const task of workflow.tasks) this.taskIds.add(task.id);
      this.workflows.push(workflow);
      const results = await this.runWorkflow(workflow);
      // The orchestrator's rule: a failed task without allowFailure (or a skipped one) fails the run.
      const fatal = workflow.tasks.some((t) => results[t.id]?.status !== 'COMPLETED' && !t.allowFailure);
      if (fatal) return { state, failed: true };
      state = await campaign.analyze(state, results);
      expect(JSON.parse(JSON.stringify(state))).toEqual(state);
    }
    throw new Error(`campaign did not finish within ${maxIterations} iterations`);
  }
}

type Obj = { [key: string]: JsonValue };
function obj(value: JsonValue | undefined): Obj {
  expect(value).toBeTypeOf('object');
  expect(Array.isArray(value)).toBe(false);
  return value as Obj;
}
function list(value: JsonValue | undefined): Obj[] {
  expect(Array.isArray(value)).toBe(true);
  return (value as JsonValue[]).map(obj);
}
const nums = (items: Obj[], key: string): number[] => items.map((item) => item[key] as number);
const isSortedDescending = (values: number[]): boolean => values.every((v, i) => i === 0 || values[i - 1]! >= v);

describe('demo workspaces', () => {
  it.each(DEMOS)('%s/operators.yaml is a valid operators config', (demo) => {
    const file = path.join(DEMOS_DIR, demo, 'operators.yaml');
    const config = parseOperatorsConfig(readFileSync(file, 'utf8'), file);
    expect(config.operators['local.default']?.kind).toBe('local');
  });

  it('battery_screening: screens six electrolytes in parallel, tolerates the unmakeable one, ranks the rest', async () => {
    const demo = new DemoRun('battery_screening');
    const { state, failed } = await demo.drive();
    expect(failed).toBe(false);
    expect(demo.workflows.map((w) => w.tasks.length)).toEqual([6, 1]);
    expect(demo.workflows[1]!.tasks[0]!.dependencies).toHaveLength(6);
    expect(demo.taskResults.screen_E06?.status).toBe('FAILED');
    expect(readFileSync(path.join(demo.attemptDirs.screen_E06!, 'stderr.log'), 'utf8')).toContain('solubility');

    const final = obj(state);
    const ranking = list(final.ranking);
    expect(ranking.map((r) => r.id).sort()).toEqual(['E01', 'E02', 'E03', 'E04', 'E05']);
    expect(nums(ranking, 'rank')).toEqual([1, 2, 3, 4, 5]);
    expect(isSortedDescending(nums(ranking, 'score'))).toBe(true);
    expect(ranking.some((r) => r.pareto === true)).toBe(true);
    expect(list(final.failed).map((f) => f.id)).toEqual(['E06']);
    expect(final.best).toBe(ranking[0]!.id);
    expect(demo.taskResults.rank?.files?.['report.md']).toBeDefined();
  });

  it('coatings_active_learning: three batches, distinct candidates, a surrogate that is scored and used', async () => {
    const demo = new DemoRun('coatings_active_learning');
    const { state, failed } = await demo.drive();
    expect(failed).toBe(false);
    expect(demo.workflows.map((w) => w.tasks.map((t) => t.id))).toEqual([0, 1, 2].map((i) => [0, 1, 2, 3].map((k) => `sim_i${i}_c${k}`)));

    const final = obj(state);
    expect(final.iteration).toBe(3);
    expect(final.pending).toEqual([]);
    const evaluated = list(final.evaluated);
    expect(evaluated).toHaveLength(12);
    expect(new Set(evaluated.map((e) => JSON.stringify(e.params))).size).toBe(12);
    // Batches 1 and 2 were chosen by the surrogate, so they carry its prediction.
    expect(evaluated.filter((e) => e.iteration !== 0).every((e) => typeof e.predicted === 'number')).toBe(true);
    const history = list(final.history);
    expect(nums(history, 'iteration')).toEqual([0, 1, 2]);
    expect(history[0]!.surrogate_mae).toBeNull();
    const mae = nums(history.slice(1), 'surrogate_mae');
    expect(mae.every((m) => Number.isFinite(m) && m >= 0)).toBe(true);
    expect(mae[1]!).toBeLessThan(mae[0]!); // more data, better predictions of the next batch
    const best = nums(history, 'best_objective');
    expect(best[2]!).toBeLessThan(best[0]!); // the surrogate-guided batches found a better coating
    expect(Math.min(...nums(evaluated, 'objective'))).toBe(best[2]);
  });

  it('thin_film_lab: prediction, robot experiment through request/result files, reconciliation', async () => {
    const demo = new DemoRun('thin_film_lab');
    const { state, failed } = await demo.drive();
    expect(failed).toBe(false);
    expect(demo.workflows.map((w) => w.tasks.map((t) => `${t.id}:${t.kind}`))).toEqual([['predict:compute'], ['deposit:external'], ['reconcile:compute']]);

    const final = obj(state);
    expect(final.stage).toBe('done');
    const prediction = obj(final.prediction);
    const measurement = obj(final.measurement);
    const reconciliation = obj(final.reconciliation);
    // The robot received the predicted recipe.
    const request = obj(demo.workflows[1]!.tasks[0]!.request);
    expect([request.power_W, request.time_s, request.substrate_temp_C]).toEqual([prediction.power_W, prediction.time_s, prediction.substrate_temp_C]);
    expect(demo.taskResults.deposit?.files?.['profile.csv']).toBeDefined();
    const expectedError = ((prediction.thickness_nm as number) - (measurement.thickness_nm as number)) / (measurement.thickness_nm as number);
    expect(reconciliation.thickness_error_rel).toBeCloseTo(expectedError, 3);
    // The robot deposits slower than the model thinks (true rate, re-sputtering when hot, thinner
    // wafer edges in the measured mean): the calibration must say so.
    expect(reconciliation.rate_calibration as number).toBeGreaterThan(0.75);
    expect(reconciliation.rate_calibration as number).toBeLessThan(0.95);
    expect(reconciliation.corrected_time_s as number).toBeGreaterThan(prediction.time_s as number);
    expect(reconciliation.within_tolerance).toBe(false);
  });

  it('thin_film_lab/robot.mjs: answers once, refuses bad requests, watches until SIGTERM', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'ms-robot-'));
    tempDirs.push(root);
    const request = (dir: string, body: JsonValue): Promise<void> =>
      mkdir(dir, { recursive: true }).then(() => writeFileSync(path.join(dir, 'experiment_request.json'), JSON.stringify({ task_id: path.basename(dir), request: body })));
    const result = (dir: string): Obj => obj(JSON.parse(readFileSync(path.join(dir, 'experiment_result.json'), 'utf8')) as JsonValue);

    const good = path.join(root, 'r1', 'attempts', 'deposit', 'good');
    const bad = path.join(root, 'r1', 'attempts', 'deposit', 'bad');
    await request(good, { power_W: 160, time_s: 300, substrate_temp_C: 230 });
    await request(bad, { power_W: 160 });
    expect((await run(['node', ROBOT, root, '--once'], root)).code).toBe(0);
    expect(result(good).status).toBe('COMPLETED');
    expect(obj(result(good).data).thickness_nm).toBeTypeOf('number');
    expect(result(bad)).toMatchObject({ status: 'FAILED', error: expect.stringContaining('time_s') });
    // Deterministic: the same request measured again gives the same film.
    const first = result(good);
    rmSync(path.join(good, 'experiment_result.json'));
    await run(['node', ROBOT, root, '--once'], root);
    expect(result(good)).toEqual(first);

    const watcher = spawn('node', [ROBOT, root], { stdio: 'ignore' });
    const late = path.join(root, 'r2', 'attempts', 'deposit', 'late');
    await request(late, { power_W: 100, time_s: 200, substrate_temp_C: 150 });
    await vi.waitFor(() => expect(result(late).status).toBe('COMPLETED'), { timeout: 5000 });
    const exitCode = await new Promise<number | null>((resolve) => {
      watcher.on('exit', (code) => resolve(code));
      watcher.kill('SIGTERM');
    });
    expect(exitCode).toBe(0);
  });

  it('catalyst_human_in_loop: proposals, an approval gate before the expensive work, a ranking of every candidate', async () => {
    const demo = new DemoRun('catalyst_human_in_loop');
    const { state, failed } = await demo.drive();
    expect(failed).toBe(false);
    expect(demo.workflows).toHaveLength(3);

    const final = obj(state);
    const candidates = list(final.candidates).map((c) => c.id as string);
    expect(candidates.length).toBeGreaterThanOrEqual(3);
    const [gate, ...calculations] = demo.workflows[1]!.tasks;
    expect(gate).toMatchObject({ id: 'gate_approval', kind: 'gate' });
    for (const id of candidates) expect(gate!.message).toContain(id);
    expect(calculations.map((t) => t.id)).toEqual(candidates.map((id) => `ads_${id}`));
    expect(calculations.every((t) => t.dependencies.includes('gate_approval'))).toBe(true);

    const ranking = list(final.ranking);
    expect(ranking.map((r) => r.id).sort()).toEqual([...candidates].sort());
    expect(isSortedDescending(nums(ranking, 'activity'))).toBe(true);
    expect(nums(ranking, 'adsorption_energy_eV').every((e) => e < 0)).toBe(true);
  });

  it('catalyst_human_in_loop: a rejected gate skips every calculation and fails the run', async () => {
    const demo = new DemoRun('catalyst_human_in_loop', 'reject');
    const { failed } = await demo.drive();
    expect(failed).toBe(true);
    expect(demo.taskResults.gate_approval?.status).toBe('FAILED');
    const calculations = Object.entries(demo.taskResults).filter(([id]) => id.startsWith('ads_'));
    expect(calculations.length).toBeGreaterThan(0);
    expect(calculations.every(([, r]) => r.status === 'SKIPPED')).toBe(true);
  });
});
