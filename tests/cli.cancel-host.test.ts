import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { LOCAL_FILES } from '../operators/local-operator.ts';
import { groupMembers } from '../operators/process-group.ts';
import { runCli, startCli, type RunningCli } from './harness/cli.ts';
import { oneWorkflowCampaign, tempRoot, type TempRoot } from './harness/workspace.ts';

// Embedded log: a cancel beside a running loop waits for the loop to stop the attempts (the loop holds the
// run's host lock); with no live host (none, or one killed with -9) the cancel hosts the run itself.
const roots: TempRoot[] = [];
const loops: RunningCli[] = [];
afterAll(() => {
  for (const loop of loops) if (loop.child.exitCode === null) loop.child.kill('SIGKILL');
  roots.forEach((r) => r.cleanup());
});

interface CancelJson {
  accepted: boolean;
  stopped: { attemptId: string; status: string }[];
  stillStopping: unknown[];
  stoppedBy?: string;
}

function startedPid(root: string, runId: string): number | undefined {
  const file = path.join(root, 'lab', 'runs', runId, 'attempts', 'long', 'long-a1', LOCAL_FILES.started);
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as { pid: number }).pid : undefined;
}

/** A run with one long task, driven by a `loop` in its own process once the task's processes run. */
async function loopingRun(runId: string, command = 'sleep 300'): Promise<{ root: string; loop: RunningCli; group: number }> {
  const temp = tempRoot('ms-cancel-host-');
  roots.push(temp);
  temp.workspace('lab', oneWorkflowCampaign([{ id: 'long', command }]));
  const { root } = temp;
  expect((await runCli(['init', 'lab', '--run-id', runId], { root })).code).toBe(0);
  const loop = startCli(['loop', runId, '--json'], { root });
  loops.push(loop);
  const group = await vi.waitFor(() => {
    const pid = startedPid(root, runId);
    expect(pid, 'the task started').toBeDefined();
    return pid!;
  }, { timeout: 30_000, interval: 100 });
  await vi.waitFor(() => expect(groupMembers(group).length, 'the processes of the task').toBeGreaterThanOrEqual(2), { timeout: 20_000, interval: 100 });
  return { root, loop, group };
}

describe.concurrent('cancel and the process hosting the run (embedded log)', { timeout: 120_000 }, () => {
  it('beside a loop: the loop stops the task, the cancel waits for it and says the loop stopped it', async () => {
    const { root, loop, group } = await loopingRun('h1');
    const cancel = await runCli(['cancel', 'h1'], { root });
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(groupMembers(group), 'the task is gone when cancel returns').toEqual([]);
    expect(cancel.stdout).toMatch(new RegExp(`^accepted \\(seq \\d+\\)\\nstopped: long-a1 \\(local\\.default ${group}\\) CANCELLED\\nstopped by matterstack loop \\(pid ${loop.child.pid} on `));
    expect((await loop.done).code).toBe(11);
  });

  it('a loop killed with -9 hosts nothing: the cancel stops the task itself', async () => {
    const { root, loop, group } = await loopingRun('h2');
    loop.child.kill('SIGKILL');
    await loop.done;
    expect(groupMembers(group).length, 'the task outlives its loop').toBeGreaterThan(0);
    const cancel = await runCli(['cancel', 'h2', '--json'], { root });
    expect(cancel.code, cancel.stderr).toBe(0);
    // The cancel has signalled the group (SIGKILL after the grace): on a loaded machine the last member may take a moment to go.
    await vi.waitFor(() => expect(groupMembers(group)).toEqual([]), { timeout: 10_000, interval: 100 });
    const reply = cancel.json<CancelJson>();
    expect(reply.stopped.map((a) => [a.attemptId, a.status])).toEqual([['long-a1', 'CANCELLED']]);
    expect(reply.stoppedBy).toBe('this command');
  });

  it('a second loop on a run a loop drives is refused, naming the first one', async () => {
    const { root, loop } = await loopingRun('h3');
    const second = await runCli(['loop', 'h3'], { root });
    expect(second.code).toBe(4);
    expect(second.stderr).toMatch(new RegExp(`^error: run h3 is hosted by matterstack loop \\(pid ${loop.child.pid} on [^)]*\\), which drives it already`));
    const step = await runCli(['step', 'h3'], { root });
    expect(step.code).toBe(4);
    expect(step.stderr).toContain(`is hosted by matterstack loop (pid ${loop.child.pid} on `);
    expect((await runCli(['cancel', 'h3'], { root })).code).toBe(0);
    expect((await loop.done).code).toBe(11);
  });

  it('a loop started while a cancel stops the task waits for the cancel, then ends the run CANCELLED', async () => {
    // The task ignores SIGTERM: the cancel hosts the run through the 5 s grace before SIGKILL.
    const { root, loop, group } = await loopingRun('h4', "trap '' TERM; sleep 300");
    loop.child.kill('SIGKILL');
    await loop.done;
    const cancel = startCli(['cancel', 'h4', '--json'], { root });
    const driverFile = path.join(root, 'lab', 'runs', 'h4', '.matterstack', 'driver.json');
    await vi.waitFor(() => expect(fs.existsSync(driverFile) ? fs.readFileSync(driverFile, 'utf8') : '', 'the cancel hosts the run').toContain('matterstack cancel'), { timeout: 60_000, interval: 50 });
    const next = await runCli(['loop', 'h4'], { root });
    const reply = (await cancel.done).json<CancelJson>();
    expect(reply.stoppedBy).toBe('this command');
    expect(next.code, next.stderr).toBe(11);
    expect(groupMembers(group)).toEqual([]);
  });
});
