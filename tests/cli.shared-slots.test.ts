import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli, startCli } from './harness/cli.ts';
import { cappedOperators, globalCapOperators, markingCampaign, maxOverlap, readMarks } from './harness/task-marks.ts';
import { tempRoot, type TempRoot } from './harness/workspace.ts';

const CAP = 2;
const TASKS = 6;

let temp: TempRoot;
let marksDir: string;

beforeAll(() => {
  temp = tempRoot('ms-slots-');
  marksDir = path.join(temp.root, 'marks');
  fs.mkdirSync(marksDir);
});
afterAll(() => temp?.cleanup());

async function initRuns(workspace: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const init = await runCli(['init', workspace, '--json'], { root: temp.root });
    expect(init.code, init.stderr).toBe(0);
    ids.push(init.json<{ runId: string }>().runId);
  }
  return ids;
}

function marksOf(runIds: string[]): ReturnType<typeof readMarks> {
  return readMarks(marksDir).filter((m) => runIds.some((id) => m.file.startsWith(`${id}.`)));
}

describe('operator caps shared by the runs of a workspaces root (embedded log)', { timeout: 240_000 }, () => {
  it(`one loop driving two runs keeps the operator at ${CAP} processes in all`, async () => {
    temp.workspace('one', markingCampaign(marksDir, TASKS, 0.3), cappedOperators(CAP));
    const runIds = await initRuns('one', 2);
    const loop = await runCli(['loop'], { root: temp.root });
    expect(loop.code, loop.stderr).toBe(0);
    const marks = marksOf(runIds);
    expect(marks).toHaveLength(2 * TASKS);
    expect(marks.filter((m) => m.starts.length !== 1 || m.ends.length !== 1).map((m) => m.file)).toEqual([]);
    expect(maxOverlap(marks), JSON.stringify(marks)).toBeLessThanOrEqual(CAP);
  });

  it(`two loop processes, one run each, share the cap of ${CAP}`, async () => {
    temp.workspace('two', markingCampaign(marksDir, TASKS, 0.3), cappedOperators(CAP));
    const runIds = await initRuns('two', 2);
    const loops = await Promise.all(runIds.map((runId) => runCli(['loop', runId], { root: temp.root })));
    for (const loop of loops) expect(loop.code, loop.stderr).toBe(0);
    const marks = marksOf(runIds);
    expect(marks).toHaveLength(2 * TASKS);
    expect(maxOverlap(marks), JSON.stringify(marks)).toBeLessThanOrEqual(CAP);
    // Both runs had tasks running while the other did: the cap was shared, not taken in turns.
    const spans = runIds.map((id) => marks.filter((m) => m.file.startsWith(`${id}.`)).flatMap((m) => m.starts));
    expect(Math.min(...(spans[0] ?? []))).toBeLessThan(Math.max(...(spans[1] ?? [])));
  });

  it(`the global cap set in operators.yaml (${CAP}) counts the tasks of every run, as an operator's does`, async () => {
    temp.workspace('global', markingCampaign(marksDir, TASKS, 0.3), globalCapOperators(CAP));
    const runIds = await initRuns('global', 2);
    const loop = await runCli(['loop'], { root: temp.root });
    expect(loop.code, loop.stderr).toBe(0);
    const marks = marksOf(runIds);
    expect(marks).toHaveLength(2 * TASKS);
    expect(marks.filter((m) => m.starts.length !== 1 || m.ends.length !== 1).map((m) => m.file)).toEqual([]);
    expect(maxOverlap(marks), JSON.stringify(marks)).toBeLessThanOrEqual(CAP);
  });

  it('status and explain say when a task waits for a slot another run holds', async () => {
    temp.workspace('wait', markingCampaign(marksDir, 1, 60), cappedOperators(1));
    const [holder, waiter] = await initRuns('wait', 2);
    if (holder === undefined || waiter === undefined) throw new Error('two runs expected');
    const first = startCli(['loop', holder], { root: temp.root });
    await vi.waitFor(() => expect(fs.existsSync(path.join(marksDir, `${holder}.t0`))).toBe(true), { timeout: 60_000, interval: 200 });
    const second = startCli(['loop', waiter], { root: temp.root });
    try {
      const expected = 'waiting for a slot of operator local.default shared with other runs: 1 of its 1 taken, 1 by other runs';
      await vi.waitFor(
        async () => {
          const explain = await runCli(['explain', waiter, '--json'], { root: temp.root });
          const task = explain.json<{ tasks: { id: string; why: { sharedSlot?: unknown } }[] }>().tasks.find((t) => t.id === 't0');
          expect(task?.why.sharedSlot).toEqual({ cap: 1, held: 1, byOthers: 1 });
        },
        { timeout: 60_000, interval: 500 },
      );
      expect((await runCli(['explain', waiter], { root: temp.root })).stdout).toContain(expected);
      expect((await runCli(['status', waiter], { root: temp.root })).stdout).toContain('waiting for a slot of operator local.default shared with other runs: 1 taken, 1 by other runs');
      // The holder's own task is running, not waiting.
      expect((await runCli(['explain', holder], { root: temp.root })).stdout).not.toContain('waiting for a slot');
    } finally {
      for (const runId of [holder, waiter]) await runCli(['cancel', runId], { root: temp.root });
      await Promise.all([first.done, second.done]);
    }
  });
});
