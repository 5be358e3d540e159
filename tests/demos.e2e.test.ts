import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initializeRun, openRun, runUntilCompletion, sendCommand } from '../actors/run-lifecycle.ts';
import { getRunStatus } from '../projections/queries.ts';
import { verifyReplay } from '../actors/views/replay-run.ts';
import { waitFor } from './harness/workspace.ts';

const REPO_DEMOS = path.join(import.meta.dirname, '..', 'workspaces', 'demos');
let root: string;

beforeAll(() => {
  // A copy of the demos under a temp root: runs never write into the repository.
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'ms-demos-'));
  fs.cpSync(REPO_DEMOS, path.join(root, 'demos'), { recursive: true, filter: (src) => !src.includes(`${path.sep}runs`) });
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('the four demos run end to end through the host on the embedded log', () => {
  it('battery_screening completes; the deliberately insoluble candidate fails without failing the run', async () => {
    const run = await initializeRun({ root, workspace: 'demos/battery_screening', runId: 'battery' });
    try {
      expect(await runUntilCompletion(run)).toBe('COMPLETED');
      const status = getRunStatus(await run.store.views(), 'battery');
      expect(status?.tasks.find((t) => t.id === 'rank')?.status).toBe('COMPLETED');
      expect(status?.tasks.find((t) => t.id === 'screen_E06')?.status).toBe('FAILED');
      expect(await verifyReplay(run.store.log, 'battery')).toMatchObject({ ok: true });
    } finally {
      await run.close();
    }
  });

  it('coatings_active_learning runs three learning iterations to COMPLETED', async () => {
    const run = await initializeRun({ root, workspace: 'demos/coatings_active_learning', runId: 'coatings' });
    try {
      expect(await runUntilCompletion(run)).toBe('COMPLETED');
      const status = getRunStatus(await run.store.views(), 'coatings');
      expect(status?.tasks.length).toBe(12);
      expect(status?.tasks.every((t) => t.status === 'COMPLETED')).toBe(true);
      expect(await verifyReplay(run.store.log, 'coatings')).toMatchObject({ ok: true });
    } finally {
      await run.close();
    }
  });

  it('thin_film_lab completes with the simulated robot answering the experiment request', async () => {
    const runsDir = path.join(root, 'demos', 'thin_film_lab', 'runs');
    fs.mkdirSync(runsDir, { recursive: true });
    const robot = spawn(process.execPath, [path.join(root, 'demos', 'thin_film_lab', 'robot.mjs'), runsDir], { stdio: 'ignore' });
    const run = await initializeRun({ root, workspace: 'demos/thin_film_lab', runId: 'film' });
    try {
      expect(await runUntilCompletion(run)).toBe('COMPLETED');
      const status = getRunStatus(await run.store.views(), 'film');
      expect(status?.tasks.map((t) => [t.id, t.status])).toEqual([
        ['predict', 'COMPLETED'],
        ['deposit', 'COMPLETED'],
        ['reconcile', 'COMPLETED'],
      ]);
      expect(await verifyReplay(run.store.log, 'film')).toMatchObject({ ok: true });
    } finally {
      robot.kill('SIGTERM');
      await run.close();
    }
  });

  it('catalyst_human_in_loop waits at its gate, then completes once approved by command', async () => {
    const run = await initializeRun({ root, workspace: 'demos/catalyst_human_in_loop', runId: 'catalyst' });
    const scientist = await openRun({ root, runId: 'catalyst' });
    try {
      const finished = runUntilCompletion(run);
      await waitFor(async () => getRunStatus(await scientist.store.views(), 'catalyst')?.tasks.find((t) => t.id === 'gate_approval')?.status === 'WAITING_EXTERNAL', 20_000, 'the gate');
      expect((await sendCommand(scientist, { type: 'CMD.APPROVE', taskId: 'gate_approval', by: 'test' })).accepted).toBe(true);
      expect(await finished).toBe('COMPLETED');
      const status = getRunStatus(await run.store.views(), 'catalyst');
      expect(status?.tasks.find((t) => t.id === 'rank')?.status).toBe('COMPLETED');
      expect(await verifyReplay(run.store.log, 'catalyst')).toMatchObject({ ok: true });
    } finally {
      await scientist.close();
      await run.close();
    }
  });
});
