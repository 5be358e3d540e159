import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './harness/cli.ts';

// The battery screening demo as a Python campaign (demos/battery_screening_py, run by the default
// python3) reaches the same final state — the same ranking — as the TypeScript one, through the binary.
const REPO_DEMOS = path.join(import.meta.dirname, '..', 'workspaces', 'demos');
let root: string;

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'ms-demos-py-'));
  for (const demo of ['battery_screening', 'battery_screening_py']) {
    fs.cpSync(path.join(REPO_DEMOS, demo), path.join(root, 'demos', demo), { recursive: true, filter: (src) => !src.includes(`${path.sep}runs`) });
  }
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

interface RankEntry {
  rank: number;
  id: string;
  score: number;
  pareto: boolean;
}

/** init → loop → the final status (campaign state included), and replay --verify passes. */
async function runDemo(workspace: string): Promise<{ status: string; state: { ranking: RankEntry[]; best: string; failed: { id: string }[] } }> {
  const init = await runCli(['init', workspace, '--json'], { root });
  expect(init.code, init.stderr).toBe(0);
  const { runId } = init.json<{ runId: string }>();
  const loop = await runCli(['loop', runId], { root });
  expect(loop.code, loop.stderr).toBe(0);
  const verify = await runCli(['replay', runId, '--verify'], { root });
  expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  const view = (await runCli(['status', runId, '--json'], { root })).json<{ status: string; campaignState: { state: never } }>();
  return { status: view.status, state: view.campaignState.state };
}

describe('battery screening in Python', () => {
  it('completes with the same final state and ranking as the TypeScript campaign', async () => {
    const [ts, py] = await Promise.all([runDemo('demos/battery_screening'), runDemo('demos/battery_screening_py')]);
    expect([ts.status, py.status]).toEqual(['COMPLETED', 'COMPLETED']);
    expect(py.state.ranking.map((entry) => entry.id)).toHaveLength(5);
    expect(py.state.failed.map((entry) => entry.id)).toEqual(['E06']);
    expect(py.state.ranking).toEqual(ts.state.ranking);
    expect(py.state).toEqual(ts.state);
  }, 240_000);
});
