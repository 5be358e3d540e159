import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './harness/cli.ts';
import { cappedOperators, markingCampaign, maxOverlap, readMarks } from './harness/task-marks.ts';
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
});
