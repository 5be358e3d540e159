import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli, startCli } from './harness/cli.ts';

// The README's commands on the four demos, through the real binary: init → loop → status → replay --verify.
const REPO_DEMOS = path.join(import.meta.dirname, '..', 'workspaces', 'demos');
let root: string;

beforeAll(() => {
  // A copy of the demos under a temp root, so the tests never write runs into the repository.
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'ms-demos-'));
  fs.cpSync(REPO_DEMOS, path.join(root, 'demos'), { recursive: true, filter: (src) => !src.includes(`${path.sep}runs`) });
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

interface StatusJson {
  status: string;
  tasks: { id: string; status: string }[];
}

async function initAndStatus(workspace: string): Promise<string> {
  const init = await runCli(['init', workspace, '--json'], { root });
  expect(init.code, init.stderr).toBe(0);
  return init.json<{ runId: string }>().runId;
}

async function status(runId: string): Promise<StatusJson> {
  return (await runCli(['status', runId, '--json'], { root })).json<StatusJson>();
}

async function expectVerified(runId: string): Promise<void> {
  const verify = await runCli(['replay', runId, '--verify'], { root });
  expect(verify.code, verify.stdout + verify.stderr).toBe(0);
}

describe('the four demos complete through the matterstack CLI on the embedded log', () => {
  it('battery_screening: init, loop to COMPLETED; the insoluble candidate fails without failing the run', async () => {
    const runId = await initAndStatus('demos/battery_screening');
    const loop = await runCli(['loop', runId], { root });
    expect(loop.code, loop.stderr).toBe(0);
    const view = await status(runId);
    expect(view.status).toBe('COMPLETED');
    expect(view.tasks.find((t) => t.id === 'rank')?.status).toBe('COMPLETED');
    expect(view.tasks.find((t) => t.id === 'screen_E06')?.status).toBe('FAILED');
    await expectVerified(runId);
  });

  it('coatings_active_learning: three learning iterations to COMPLETED', async () => {
    const runId = await initAndStatus('demos/coatings_active_learning');
    expect((await runCli(['loop', runId], { root })).code).toBe(0);
    const view = await status(runId);
    expect(view.tasks).toHaveLength(12);
    expect(view.tasks.every((t) => t.status === 'COMPLETED')).toBe(true);
    await expectVerified(runId);
  });

  it('thin_film_lab: the simulated robot answers the experiment request and the run completes', async () => {
    const runsDir = path.join(root, 'demos', 'thin_film_lab', 'runs');
    fs.mkdirSync(runsDir, { recursive: true });
    const robot = spawn(process.execPath, [path.join(root, 'demos', 'thin_film_lab', 'robot.mjs'), runsDir], { stdio: 'ignore' });
    try {
      const runId = await initAndStatus('demos/thin_film_lab');
      expect((await runCli(['loop', runId], { root })).code).toBe(0);
      expect((await status(runId)).tasks.map((t) => [t.id, t.status])).toEqual([
        ['predict', 'COMPLETED'],
        ['deposit', 'COMPLETED'],
        ['reconcile', 'COMPLETED'],
      ]);
      await expectVerified(runId);
    } finally {
      robot.kill('SIGTERM');
    }
  });

  it('catalyst_human_in_loop: the loop waits at the gate until `approve` from another process, then completes', async () => {
    const runId = await initAndStatus('demos/catalyst_human_in_loop');
    const loop = startCli(['loop', runId], { root });
    await vi.waitFor(async () => expect((await status(runId)).tasks.find((t) => t.id === 'gate_approval')?.status).toBe('WAITING_EXTERNAL'), { timeout: 30_000 });
    const approve = await runCli(['approve', runId, 'gate_approval', '--comment', 'looks good'], { root });
    expect(approve.code, approve.stderr).toBe(0);
    expect((await loop.done).code).toBe(0);
    const view = await status(runId);
    expect(view.status).toBe('COMPLETED');
    expect(view.tasks.find((t) => t.id === 'rank')?.status).toBe('COMPLETED');
    await expectVerified(runId);
  });
});
