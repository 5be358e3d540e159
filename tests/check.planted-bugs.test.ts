import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { Campaign, JsonValue, TaskResult } from '../index.ts';
import { checkCampaign, formatCheckReport, type CheckCampaignOptions, type CheckReport } from '../testing/index.ts';
import { SqliteEventLog } from '../storage/sqlite-event-log.ts';
import { verifyReplay } from '../views/replay-run.ts';
import { runCli } from './harness/cli.ts';

// Each campaign below hides one bug of the kinds `checkCampaign` looks for. The check must find it,
// shrink it to a scenario of a few steps, tell it as a story and write a log replay --verify accepts.

const RUNS = Number(process.env.PROPERTY_RUNS ?? 100);
// A fixed seed keeps the suite deterministic; PROPERTY_SEED explores others.
const SEED = process.env.PROPERTY_SEED !== undefined ? Number(process.env.PROPERTY_SEED) : 20261202;
const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ms-check-test-'));
afterAll(() => fs.rmSync(logDir, { recursive: true, force: true }));

const compute = (id: string, extra: object = {}) => ({ id, command: 'true', ...extra });
const score = (result: TaskResult | undefined): number => (result?.data as { score: number }).score;
const scores = (): fc.Arbitrary<JsonValue> => fc.record({ score: fc.integer({ min: 0, max: 100 }) });

async function check<State>(options: CheckCampaignOptions<State>): Promise<CheckReport> {
  return checkCampaign({ runs: RUNS, seed: SEED, logDir, ...options });
}

/** The failing report's story and log, checked the way a user would read them. */
async function expectCaught(report: CheckReport, story: RegExp): Promise<void> {
  const text = formatCheckReport(report);
  expect(report.ok, text).toBe(false);
  const failure = report.failure!;
  expect(failure.story.join(', then '), text).toMatch(story);
  // Shrunk: a few steps, not the dozens a random scenario takes.
  expect(failure.story.length, text).toBeLessThanOrEqual(4);
  expect(failure.log, text).toBeDefined();
  const log = SqliteEventLog.open(path.join(failure.log!.root, '.matterstack', 'events.sqlite'));
  try {
    expect((await verifyReplay(log, failure.log!.runId)).ok).toBe(true);
  } finally {
    await log.close();
  }
}

/** Three screening tasks that may fail; the state keeps their scores. */
const screening = (analyze: Campaign<{ scores: number[] }>['analyze']): Campaign<{ scores: number[] }> => ({
  plan: (state) => (state === null ? { tasks: ['s1', 's2', 's3'].map((id) => compute(id, { allowFailure: true })) } : null),
  analyze,
});

describe('checkCampaign catches planted bugs and shrinks them to a short story', () => {
  it('analyze throws when a task failed', async () => {
    const campaign = screening((_state, results) => ({ scores: Object.values(results).map((r) => (r.data as { score: number }).score) }));
    await expectCaught(await check({ campaign, results: scores }), /^s\d (FAILED \(exit 1\)|FAILED \(TIMEOUT\)|FAILED \(lost\)), then analyze threw TypeError: /);
  }, 60_000);

  it('plan asks for a task that already ran (an invalid workflow)', async () => {
    const campaign: Campaign<{ retry: boolean }> = {
      plan: (state) => (state === null ? { tasks: [compute('a', { allowFailure: true })] } : state.retry ? { tasks: [compute('a')] } : null),
      analyze: (_state, results) => ({ retry: results.a?.status !== 'COMPLETED' }),
    };
    await expectCaught(await check({ campaign }), /^(a FAILED \(.*\)|cancel-attempt a-a1), then plan returned an invalid workflow: .*already exists in the run \(a\)/);
  }, 60_000);

  it('a loop that never converges (refines until an error the tasks almost never reach)', async () => {
    const campaign: Campaign<{ round: number; error: number }> = {
      plan: (state) => (state !== null && state.error < 0.01 ? null : { tasks: [compute(`refine_${state?.round ?? 0}`)] }),
      analyze: (state, results) => ({ round: (state?.round ?? 0) + 1, error: Math.min(state?.error ?? 1, ...Object.values(results).map((r) => (r.data as { error: number } | undefined)?.error ?? 1)) }),
    };
    const report = await check({ campaign, maxIterations: 8, results: () => fc.record({ error: fc.double({ min: 0.01, max: 1, noNaN: true }) }) });
    await expectCaught(report, /the campaign did not converge: .*maxIterations \(8\)/);
  }, 60_000);

  it('a gate rejection nobody handled', async () => {
    const campaign: Campaign<{ batch: string } | { batch: string; made: boolean }> = {
      plan: (state) => (state === null ? { tasks: [{ id: 'review', kind: 'gate', message: 'which batch?', allowFailure: true }] } : 'made' in state ? null : { tasks: [compute('make')] }),
      analyze: (state, results) => (state === null ? { batch: (results.review!.data as { batch: string }).batch } : { ...state, made: true }),
    };
    const report = await check({ campaign, gateData: () => fc.record({ batch: fc.constantFrom('b1', 'b2') }).map((d) => d as JsonValue) });
    await expectCaught(report, /^(review rejected( with \S+)?|cancel-attempt review-a1), then analyze threw TypeError: .*'batch'/);
  }, 60_000);

  it('a gate no person is told to answer (routed to a compute operator): the run rests, and explain says nothing to do', async () => {
    const campaign: Campaign<{ approved: boolean }> = {
      plan: (state) => (state === null ? { tasks: [{ id: 'review', kind: 'gate', message: 'go on?', operatorKey: 'local.default' }] } : null),
      analyze: () => ({ approved: true }),
    };
    await expectCaught(await check({ campaign }), /^review left waiting for a person, then the run rests waiting for review, but `matterstack explain` gives a person nothing to do about it/);
  }, 60_000);

  it('the same gate routed to a person rests explained: the check passes', async () => {
    const campaign: Campaign<{ approved: boolean }> = {
      plan: (state) => (state === null ? { tasks: [{ id: 'review', kind: 'gate', message: 'go on?' }] } : null),
      analyze: () => ({ approved: true }),
    };
    const report = await check({ campaign });
    expect(report.ok, formatCheckReport(report)).toBe(true);
  }, 60_000);

  it("a user's invariant (the best score never decreases)", async () => {
    const campaign: Campaign<{ round: number; best: number }> = {
      plan: (state) => ((state?.round ?? 0) < 3 ? { tasks: [compute(`r${state?.round ?? 0}`)] } : null),
      // The bug: the latest score, not the best so far.
      analyze: (state, results) => ({ round: (state?.round ?? 0) + 1, best: score(Object.values(results)[0]) }),
    };
    const report = await check({
      campaign,
      results: scores,
      invariants: [
        function bestNeverDecreases(state, run) {
          const previous = run.previousState as { best: number } | null;
          return previous === null || state.best >= previous.best;
        },
      ],
    });
    await expectCaught(report, /invariant "bestNeverDecreases" broken after iteration \d/);
  }, 60_000);

  it('a state that is not JSON (the best of no scores is -Infinity)', async () => {
    const campaign: Campaign<{ best: number }> = {
      plan: (state) => (state === null ? { tasks: [compute('s1', { allowFailure: true })] } : null),
      analyze: (_state, results) => ({ best: Math.max(...Object.values(results).filter((r) => r.status === 'COMPLETED').map(score)) }),
    };
    await expectCaught(await check({ campaign, results: scores }), /^(s1 FAILED \(.*\)|cancel-attempt s1-a1), then the state is not JSON: .*state.best is -Infinity/);
  }, 60_000);
});

describe('checkCampaign ends whatever the campaign awaits', () => {
  it('an analyze that awaits forever fails its scenario after the call timeout, with a story and the seed', async () => {
    const campaign = screening(async (_state, results) => {
      if (Object.values(results).some((r) => r.status !== 'COMPLETED')) await new Promise(() => undefined);
      return { scores: [] };
    });
    const report = await check({ campaign, results: scores, callTimeoutMs: 100 });
    await expectCaught(report, /^(s\d FAILED \(.*\)|cancel-attempt s\d-a1), then analyze did not return within 100 ms/);
    expect(formatCheckReport(report)).toContain(`reproduce: --seed ${SEED}`);
  }, 60_000);
});

describe('checkCampaign on a correct campaign, and its seed', () => {
  const correct = screening((_state, results) => ({
    scores: Object.values(results)
      .filter((r) => r.status === 'COMPLETED')
      .map(score),
  }));

  it('a correct campaign passes, and the report says which run-machine transitions were exercised', async () => {
    const report = await check({ campaign: correct, results: scores });
    expect(report.ok, formatCheckReport(report)).toBe(true);
    expect(report.scenarios).toBe(RUNS);
    const exercised = report.coverage.exercised.map((t) => t.transition);
    expect(exercised).toContain('any state --CMD.PAUSE [commandAccepted]--> paused');
    expect(report.coverage.missed).toContain('any state --CMD.APPROVE [commandAccepted]--> (stays)');
  }, 60_000);

  it('the same seed gives the same scenario (and the same shrunk failure)', async () => {
    const buggy = screening((_state, results) => ({ scores: Object.values(results).map((r) => (r.data as { score: number }).score) }));
    const first = await check({ campaign: buggy, results: scores, seed: 4242 });
    const second = await check({ campaign: buggy, results: scores, seed: 4242 });
    expect(first.ok).toBe(false);
    expect(second.seed).toBe(4242);
    expect(second.failure!.story).toEqual(first.failure!.story);
    expect(second.scenarios).toBe(first.scenarios);
  }, 60_000);
});

describe('matterstack check (the binary)', () => {
  it('a planted bug: exit 14, the story, and a log the printed replay --verify command accepts', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ms-check-cli-'));
    try {
      const workspace = path.join(root, 'buggy');
      fs.mkdirSync(workspace);
      fs.writeFileSync(
        path.join(workspace, 'campaign.ts'),
        [
          'export function plan(state) {',
          "  return state === null ? { tasks: [{ id: 'a', command: 'true', allowFailure: true }, { id: 'b', command: 'true', allowFailure: true }] } : null;",
          '}',
          'export function analyze(state, results) {',
          '  return { total: results.a.data.score + results.b.data.score };',
          '}',
        ].join('\n'),
      );
      fs.writeFileSync(
        path.join(workspace, 'campaign.check.ts'),
        `import { fc } from ${JSON.stringify(path.resolve(import.meta.dirname, '../testing/index.ts'))};\nconst score = fc.record({ score: fc.integer() });\nexport default { results: () => score };\n`,
      );
      const checked = await runCli(['check', 'buggy', '--runs', '50', '--seed', '7', '--log-dir', root], { root });
      expect(checked.code, checked.stdout + checked.stderr).toBe(14);
      expect(checked.stdout).toMatch(/[ab] FAILED \(.*\), then analyze threw TypeError/);
      const replay = /replay it: matterstack (replay \S+ --verify --root \S+)/.exec(checked.stdout);
      expect(replay, checked.stdout).not.toBeNull();
      const verified = await runCli(replay![1]!.split(' '), { root });
      expect(verified.code, verified.stdout + verified.stderr).toBe(0);
      expect(verified.stdout).toMatch(/replay verified/);
      const again = await runCli(['check', 'buggy', '--runs', '50', '--seed', '7', '--json', '--log-dir', root], { root });
      expect(again.json<CheckReport>().failure!.story.join(', then ')).toBe(/  (.*)\n/.exec(checked.stdout)![1]);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  }, 150_000);
});
