import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { runCli, startCli } from './harness/cli.ts';
import { oneWorkflowCampaign, tempRoot, type TempRoot } from './harness/workspace.ts';

const roots: TempRoot[] = [];
afterAll(() => roots.forEach((r) => r.cleanup()));

const GATED = oneWorkflowCampaign([
  { id: 'gate', kind: 'gate', message: 'Go on?' },
  { id: 'after', command: 'true', dependencies: ['gate'] },
]);

/** True when no process holds the run's host lock (`runs/<id>/.matterstack/host.lock`, see host/run-host-lock.ts). */
function hostLockFree(runDir: string): boolean {
  const db = new Database(path.join(runDir, '.matterstack', 'host.lock'), { timeout: 0 });
  try {
    db.exec('BEGIN IMMEDIATE');
    db.exec('ROLLBACK');
    return true;
  } catch (error) {
    if ((error as { code?: unknown }).code === 'SQLITE_BUSY') return false;
    throw error;
  } finally {
    db.close();
  }
}

/** Stops `child` at a moment it does not host the run (a loop frozen mid-step would hold its lock and keep every other process out). */
async function freezeBetweenSteps(child: ChildProcess, runDir: string): Promise<void> {
  for (;;) {
    child.kill('SIGSTOP');
    if (hostLockFree(runDir)) return;
    child.kill('SIGCONT');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('loop without a run id reports how each run really ended (real processes, embedded log)', () => {
  it('a run another process drove to FAILED meanwhile is reported FAILED, exit 10', async () => {
    const temp = tempRoot('ms-loop-');
    roots.push(temp);
    temp.workspace('lab', GATED);
    const { root } = temp;
    await runCli(['init', 'lab', '--run-id', 'elsewhere'], { root });
    const all = startCli(['loop', '--json'], { root });
    await vi.waitFor(async () => expect((await runCli(['status', 'elsewhere', '--json'], { root })).json<{ gates: unknown[] }>().gates).not.toEqual([]), { timeout: 30_000 });
    // Freeze the round-robin loop (between two steps) while another process ends the run, so the loop cannot step it itself.
    await freezeBetweenSteps(all.child, path.join(root, 'lab', 'runs', 'elsewhere'));
    try {
      expect((await runCli(['reject', 'elsewhere', 'gate'], { root })).code).toBe(0);
      expect((await runCli(['loop', 'elsewhere'], { root })).code).toBe(10);
    } finally {
      all.child.kill('SIGCONT');
    }
    const finished = await all.done;
    const end = JSON.parse(finished.stdout.trim().split('\n').at(-1)!) as unknown;
    expect(end).toEqual({ event: 'end', runs: [{ runId: 'elsewhere', status: 'FAILED' }], exitCode: 10 });
    expect(finished.code).toBe(10);
  });
});
