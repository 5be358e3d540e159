import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { LOCAL_FILES } from '../operators/local-operator.ts';
import { groupMembers } from '../operators/process-group.ts';
import { runCli, startCli } from './harness/cli.ts';
import { oneWorkflowCampaign, tempRoot, type TempRoot } from './harness/workspace.ts';

// cancel / cancel-attempt with no loop hosting the run stop the processes themselves, before they return.
const roots: TempRoot[] = [];
afterAll(() => roots.forEach((r) => r.cleanup()));

interface Stopped {
  attemptId: string;
  taskId: string;
  operatorKey: string;
  externalId?: string;
  status: string;
}
interface CancelJson {
  accepted: boolean;
  seq: number;
  stopped: Stopped[];
  stillStopping: Stopped[];
}
interface StatusJson {
  status: string;
  tasks: { id: string; status: string }[];
}

function started(root: string, runId: string, task: string): number | undefined {
  const file = path.join(root, 'lab', 'runs', runId, 'attempts', task, `${task}-a1`, LOCAL_FILES.started);
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as { pid: number }).pid : undefined;
}

/** A run of two long tasks whose processes run (wrapper, shell, sleep), with no loop left hosting it. */
async function runningRun(runId: string, command = 'sleep 300'): Promise<{ root: string; groups: Record<string, number> }> {
  const temp = tempRoot('ms-cancel-stops-');
  roots.push(temp);
  temp.workspace('lab', oneWorkflowCampaign([{ id: 'one', command }, { id: 'two', command }]));
  const { root } = temp;
  expect((await runCli(['init', 'lab', '--run-id', runId], { root })).code).toBe(0);
  expect((await runCli(['step', runId], { root })).code).toBe(0);
  const groups: Record<string, number> = {};
  for (const task of ['one', 'two']) {
    const pgid = await vi.waitFor(() => {
      const pid = started(root, runId, task);
      if (pid === undefined) throw new Error(`task ${task} has not started`);
      return pid;
    }, { timeout: 20_000 });
    await vi.waitFor(() => expect(groupMembers(pgid).length, `the processes of ${task}`).toBeGreaterThanOrEqual(2), { timeout: 20_000 });
    groups[task] = pgid;
  }
  return { root, groups };
}

describe('cancel stops the attempts itself when no loop hosts the run', () => {
  it('cancel: returns once every process is gone, says what it stopped, and status shows no RUNNING attempt', async () => {
    const { root, groups } = await runningRun('c1');
    const cancel = await runCli(['cancel', 'c1', '--json'], { root });
    expect(cancel.code, cancel.stderr).toBe(0);
    const reply = cancel.json<CancelJson>();
    // Checked as soon as the command returned: nothing of either task is left.
    expect(groupMembers(groups.one!)).toEqual([]);
    expect(groupMembers(groups.two!)).toEqual([]);
    expect(reply.stopped.map((a) => [a.attemptId, a.operatorKey, a.externalId, a.status]).sort()).toEqual([
      ['one-a1', 'local.default', String(groups.one), 'CANCELLED'],
      ['two-a1', 'local.default', String(groups.two), 'CANCELLED'],
    ]);
    expect(reply.stillStopping).toEqual([]);
    const status = (await runCli(['status', 'c1', '--json'], { root })).json<StatusJson>();
    expect(status.status).toBe('CANCELLED');
    expect(status.tasks.map((t) => t.status)).toEqual(['CANCELLED', 'CANCELLED']);
  });

  it('cancel-attempt: stops that attempt only and prints it', async () => {
    const { root, groups } = await runningRun('c2');
    const bad = await runCli(['cancel-attempt', 'c2', 'one-a1', '--wait-timeout', 'soon'], { root });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--wait-timeout must be a number of seconds >= 0, got "soon"');
    expect(groupMembers(groups.one!).length, 'a refused command stops nothing').toBeGreaterThan(0);
    const cancel = await runCli(['cancel-attempt', 'c2', 'one-a1'], { root });
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(groupMembers(groups.one!)).toEqual([]);
    expect(groupMembers(groups.two!).length).toBeGreaterThan(0);
    expect(cancel.stdout).toMatch(new RegExp(`^accepted \\(seq \\d+\\)\\nstopped: one-a1 \\(local.default ${groups.one}\\) CANCELLED\\nstopped by this command\\n$`));
    const status = (await runCli(['status', 'c2', '--json'], { root })).json<StatusJson>();
    expect(status.tasks.map((t) => [t.id, t.status])).toEqual([
      ['one', 'CANCELLED'],
      ['two', 'RUNNING'],
    ]);
    expect((await runCli(['cancel', 'c2'], { root })).code).toBe(0);
    expect(groupMembers(groups.two!)).toEqual([]);
  });

  it('beside a running loop: cancel returns once the attempts are stopped and reports them; the loop ends CANCELLED', async () => {
    const { root, groups } = await runningRun('c3');
    const loop = startCli(['loop', 'c3', '--json'], { root });
    // The loop hosts the run once it printed progress.
    await vi.waitFor(() => expect(loop.output().stdout).toContain('"progress"'), { timeout: 20_000 });
    const cancel = await runCli(['cancel', 'c3', '--json'], { root });
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(groupMembers(groups.one!)).toEqual([]);
    expect(groupMembers(groups.two!)).toEqual([]);
    expect(cancel.json<CancelJson>().stopped.map((a) => [a.attemptId, a.status]).sort()).toEqual([
      ['one-a1', 'CANCELLED'],
      ['two-a1', 'CANCELLED'],
    ]);
    expect((await loop.done).code).toBe(11);
    const status = (await runCli(['status', 'c3', '--json'], { root })).json<StatusJson>();
    expect(status.tasks.map((t) => t.status)).toEqual(['CANCELLED', 'CANCELLED']);
  });

  it('still stopping after --wait-timeout: says so and exits 13; a later loop finishes the job', async () => {
    // The tasks ignore SIGTERM: only the SIGKILL after the 5 s grace ends them, later than the 1 s wait.
    const { root, groups } = await runningRun('c4', "trap '' TERM; sleep 300");
    const cancel = await runCli(['cancel', 'c4', '--wait-timeout', '1'], { root });
    expect(cancel.code, cancel.stderr).toBe(13);
    expect(cancel.stdout).toMatch(/^accepted \(seq \d+\)\nstill stopping after 1 s: (one|two)-a1 \(local\.default \d+\) RUNNING, (one|two)-a1 /);
    expect((await runCli(['loop', 'c4'], { root })).code).toBe(11);
    expect(groupMembers(groups.one!)).toEqual([]);
    expect(groupMembers(groups.two!)).toEqual([]);
  });
});
