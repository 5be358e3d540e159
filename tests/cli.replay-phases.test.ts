import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './harness/cli.ts';
import { tempRoot, type TempRoot } from './harness/workspace.ts';

// `replay` shows, for each cycle of the run, what its four phases did (real binary, embedded log).
const roots: TempRoot[] = [];
afterAll(() => roots.forEach((r) => r.cleanup()));

interface Entry {
  seq: number;
  type: string;
  phases?: {
    poll: { reportsApplied: number };
    plan: { tasksSkipped: number };
    execute: { attemptsDispatched: number };
    analyze: { outcome: string; iteration: number | null };
  };
}

const TWO_ITERATIONS = `
export function plan(state) { return (state ?? 0) < 2 ? { tasks: [{ id: 't' + (state ?? 0), command: 'true' }] } : null; }
export function analyze(state) { return (state ?? 0) + 1; }
`;
const FAILING = `
export function plan(state) {
  return state === null ? { tasks: [{ id: 'ok', command: 'true' }, { id: 'bad', command: 'false' }, { id: 'after', command: 'true', dependencies: ['bad'] }] } : null;
}
export function analyze() { return 1; }
`;

async function loopedRun(campaign: string): Promise<{ root: string; runId: string }> {
  const temp = tempRoot('ms-phases-');
  roots.push(temp);
  temp.workspace('lab', campaign);
  const init = await runCli(['init', 'lab', '--run-id', 'r1'], { root: temp.root });
  expect(init.code, init.stderr).toBe(0);
  await runCli(['loop', 'r1'], { root: temp.root });
  return { root: temp.root, runId: 'r1' };
}

function phasesOf(entries: Entry[]): [string, Entry['phases']][] {
  return entries.filter((e) => e.phases !== undefined).map((e) => [e.type, e.phases]);
}

describe.concurrent('replay: the four phases of every cycle', () => {
  it('a two-iteration run: dispatches, reports applied, the campaign asked per iteration', async () => {
    const { root, runId } = await loopedRun(TWO_ITERATIONS);
    const [json, text] = await Promise.all([runCli(['replay', runId, '--json'], { root }), runCli(['replay', runId], { root })]);
    expect(json.code, json.stderr).toBe(0);
    const cycles = phasesOf(json.json<Entry[]>());
    // A cycle may also run between an attempt's start and end reports (under load): only the shape is fixed.
    expect(cycles[0]).toEqual(['RUN.STEP', { poll: { reportsApplied: 0 }, plan: { tasksSkipped: 0 }, execute: { attemptsDispatched: 1 }, analyze: { outcome: 'waiting', iteration: 0 } }]);
    expect(cycles.filter(([, p]) => p!.analyze.outcome === 'campaign asked').map(([type, p]) => [type, p!.analyze.iteration])).toEqual([
      ['RUN.STEP', 0],
      ['RUN.STEP', 1],
    ]);
    expect(cycles.filter(([type]) => type === 'CAMPAIGN.PLANNED').map(([, p]) => [p!.execute.attemptsDispatched, p!.analyze.iteration])).toEqual([[1, 1]]);
    expect(cycles.every(([, p]) => p!.plan.tasksSkipped === 0)).toBe(true);
    // Every report of the two attempts is applied by some cycle.
    expect(cycles.reduce((sum, [, p]) => sum + p!.poll.reportsApplied, 0)).toBeGreaterThanOrEqual(2);
    const lines = text.stdout.split('\n').filter((line) => line.includes('phases: '));
    expect(lines).toHaveLength(cycles.length);
    expect(lines[0]).toContain('poll (0 reports applied) → plan (0 tasks skipped) → execute (1 attempt dispatched) → analyze (');
    expect(lines.filter((line) => /poll \(\d+ reports? applied\) → plan \(0 tasks skipped\) → execute \(0 attempts dispatched\) → analyze \(campaign asked to analyze iteration [01]\)/.test(line))).toHaveLength(2);
  });

  it('a failing run: the skipped dependant shows in one cycle, the failure in the last', async () => {
    const { root, runId } = await loopedRun(FAILING);
    const json = await runCli(['replay', runId, '--json'], { root });
    const cycles = phasesOf(json.json<Entry[]>());
    expect(cycles[0]).toEqual(['RUN.STEP', expect.objectContaining({ execute: { attemptsDispatched: 2 }, analyze: { outcome: 'waiting', iteration: 0 } })]);
    // Which cycle skips the dependant depends on whether `ok` or `bad` ends first; exactly one does.
    expect(cycles.reduce((sum, [, p]) => sum + p!.plan.tasksSkipped, 0)).toBe(1);
    expect(cycles.slice(1).every(([, p]) => p!.execute.attemptsDispatched === 0)).toBe(true);
    expect(cycles.at(-1)).toEqual(['RUN.STEP', expect.objectContaining({ analyze: { outcome: 'failed', iteration: 0 } })]);
  });
});
