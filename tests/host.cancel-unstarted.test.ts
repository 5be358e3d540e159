import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isProcessAlive } from '../operators/process-group.ts';
import type { OperatorEntry } from '../workspace/operators-config.ts';
import { stopCancelledAttempts } from '../host/carry-out-cancellations.ts';
import { initializeRun, openRun, sendCommand, type RunHandle } from '../host/run-lifecycle.ts';
import { runUntilCompletion } from '../host/drive-run.ts';
import { RunHost } from '../host/run-host.ts';
import { HeldStartOperator } from './harness/held-start-operator.ts';
import { verifyAndClose } from './harness/verify-and-close.ts';
import { oneWorkflowCampaign, tempRoot, type TempRoot } from './harness/workspace.ts';

// A cancel that lands while an attempt's start is in flight moves it straight from `created` to
// `cancelled`: a state that owes no effect. These tests hold that the process the start launched
// is stopped all the same, by the host reading the cancel, or by the cancel itself when no host runs.

const CHILD = path.join(import.meta.dirname, 'harness', 'orchestrator-child.ts');
const REPO = path.join(import.meta.dirname, '..');

let temp: TempRoot | undefined;
afterEach(() => temp?.cleanup());

/** The pid the task's command wrote (it `exec`s sleep: the pid is the command's own process). */
function taskPid(root: string, runId: string): number | undefined {
  const file = path.join(root, 'ws', 'runs', runId, 'attempts', 'long', 'long-a1', 'task.pid');
  return existsSync(file) ? Number(readFileSync(file, 'utf8')) : undefined;
}

async function attemptStatus(handle: RunHandle): Promise<string | undefined> {
  const host = await RunHost.restore(handle.store.log, handle.runId);
  return host.state.attempts.get('long-a1')?.context.status;
}

describe('a cancel that lands while the start is in flight', { timeout: 60_000 }, () => {
  it('from another writer beside a live host: the host stops the process its start launched', async () => {
    temp = tempRoot();
    temp.workspace('ws', oneWorkflowCampaign([{ id: 'long', command: 'echo $$ > task.pid; exec sleep 300' }]));
    const operator = new HeldStartOperator({ killGraceMs: 300 });
    const options = { registry: { factories: { local: (_key: string, _entry: OperatorEntry) => operator } } };
    const run = await initializeRun({ root: temp.root, workspace: 'ws', runId: 'held' });
    const other = await openRun({ root: temp.root, runId: 'held' });
    try {
      const finished = runUntilCompletion(run, options);
      const pid = await vi.waitFor(() => {
        expect(operator.launched).toBe(true);
        const found = taskPid(temp!.root, 'held');
        expect(found).toBeDefined();
        return found!;
      }, { timeout: 20_000, interval: 20 });
      expect(await attemptStatus(other), 'the start is not recorded yet').toBe('CREATED');
      expect(await sendCommand(other, { type: 'CMD.CANCEL' })).toMatchObject({ accepted: true });
      await vi.waitFor(() => expect(isProcessAlive(pid), 'the task outlives the cancel').toBe(false), { timeout: 10_000, interval: 50 });
      operator.release();
      expect(await finished).toBe('CANCELLED');
      expect(await attemptStatus(other)).toBe('CANCELLED');
    } finally {
      operator.release();
      await other.close();
      await verifyAndClose(run);
    }
  });

  it('with no host left (killed -9 with its start launched and unrecorded): the cancel hosts the run and stops the task', async () => {
    temp = tempRoot();
    temp.workspace('ws', oneWorkflowCampaign([{ id: 'long', command: 'echo $$ > task.pid; exec sleep 300' }]));
    const run = await initializeRun({ root: temp.root, workspace: 'ws', runId: 'orphan' });
    await run.close();
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, temp.root, 'ws', 'orphan', '{}', 'hold-start'], { cwd: REPO, stdio: 'ignore' });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    let pid: number | undefined;
    const other = await openRun({ root: temp.root, runId: 'orphan' });
    try {
      pid = await vi.waitFor(() => {
        const found = taskPid(temp!.root, 'orphan');
        expect(found).toBeDefined();
        return found!;
      }, { timeout: 30_000, interval: 20 });
      child.kill('SIGKILL');
      await exited;
      expect(await attemptStatus(other), 'the start is not recorded').toBe('CREATED');
      expect(isProcessAlive(pid)).toBe(true);
      const reply = await sendCommand(other, { type: 'CMD.CANCEL' });
      if (!reply.accepted) throw new Error(reply.message);
      const outcome = await stopCancelledAttempts(other, reply.seq, 10_000);
      expect(outcome.stoppedBy).toBe('this command');
      expect(outcome.stopped.map((a) => [a.attemptId, a.status])).toEqual([['long-a1', 'CANCELLED']]);
      expect(isProcessAlive(pid), 'the task is gone when the cancel returns').toBe(false);
    } finally {
      child.kill('SIGKILL');
      if (pid !== undefined && isProcessAlive(pid)) process.kill(pid, 'SIGKILL');
      await verifyAndClose(other);
    }
  });
});
