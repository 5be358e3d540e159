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
    const phase = (reports: unknown, skipped: number, dispatched: number, outcome: string, iteration: number) => ({
      poll: { reportsApplied: reports },
      plan: { tasksSkipped: skipped },
      execute: { attemptsDispatched: dispatched },
      analyze: { outcome, iteration },
    });
    // The attempt's reports (started, ended) reach the run before the next cycle: how many is the operator's business.
    const applied = expect.toSatisfy((n: number) => n >= 1);
    expect(phasesOf(json.json<Entry[]>())).toEqual([
      ['RUN.STEP', phase(0, 0, 1, 'waiting', 0)],
      ['RUN.STEP', phase(applied, 0, 0, 'campaign asked', 0)],
      ['CAMPAIGN.PLANNED', phase(0, 0, 1, 'waiting', 1)],
      ['RUN.STEP', phase(applied, 0, 0, 'campaign asked', 1)],
    ]);
    const lines = text.stdout.split('\n').filter((line) => line.includes('phases: '));
    expect(lines).toHaveLength(4);
    expect(lines[0]).toContain('poll (0 reports applied) → plan (0 tasks skipped) → execute (1 attempt dispatched) → analyze (');
    expect(lines[1]).toMatch(/poll \(\d+ reports? applied\) → plan/);
    expect(lines[1]).toContain('plan (0 tasks skipped) → execute (0 attempts dispatched) → analyze (campaign asked to analyze iteration 0)');
    expect(lines[3]).toContain('analyze (campaign asked to analyze iteration 1)');
  });

  it('a failing run: the skipped dependant and the failure show in the last cycle', async () => {
    const { root, runId } = await loopedRun(FAILING);
    const json = await runCli(['replay', runId, '--json'], { root });
    const cycles = phasesOf(json.json<Entry[]>());
    expect(cycles[0]).toEqual(['RUN.STEP', expect.objectContaining({ execute: { attemptsDispatched: 2 }, analyze: { outcome: 'waiting', iteration: 0 } })]);
    expect(cycles.at(-1)).toEqual([
      'RUN.STEP',
      expect.objectContaining({ plan: { tasksSkipped: 1 }, execute: { attemptsDispatched: 0 }, analyze: { outcome: 'failed', iteration: 0 } }),
    ]);
  });
});
