import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cgroupPids } from '../operators/attempt-cgroup.ts';
import { LOCAL_FILES, type LocalOperatorOptions } from '../operators/local-operator.ts';
import { groupMembers, isProcessAlive } from '../operators/process-group.ts';
import { runCli } from './harness/cli.ts';
import { oneWorkflowCampaign, tempRoot, type TempRoot } from './harness/workspace.ts';
import { killLeftover } from './operators-helpers.ts';

const CHILD = path.join(import.meta.dirname, 'harness', 'orchestrator-child.ts');
const REPO = path.join(import.meta.dirname, '..');

let temp: TempRoot | undefined;
const leftovers: number[] = [];
afterEach(() => {
  for (const pid of leftovers.splice(0)) killLeftover(pid);
  temp?.cleanup();
});

/** The orchestrator as a real process (node itself, so SIGKILL reaches it). */
function orchestrate(root: string, runId: string, localOptions?: LocalOperatorOptions): { done: Promise<{ code: number | null; stdout: string }>; kill(): void } {
  const extra = localOptions === undefined ? [] : [JSON.stringify(localOptions)];
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, root, 'ws', runId, ...extra], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  // Read only so the child never blocks on a full pipe: the orchestrator's own log is not what this test checks.
  child.stderr.on('data', () => undefined);
  const done = new Promise<{ code: number | null; stdout: string }>((resolve) => child.on('exit', (code) => resolve({ code, stdout })));
  return { done, kill: () => child.kill('SIGKILL') };
}

describe('a cancel interrupted by a crash', () => {
  it('is finished by the restarted host: no process of the attempt survives (SIGTERM ignored by one, leader gone)', async () => {
    temp = tempRoot('ms-cancel-crash-');
    const { root } = temp;
    // The task's shell (the group's leader) ends on SIGTERM; the subshell it left and its sleep ignore it: only the escalation to SIGKILL ends them.
    temp.workspace('ws', oneWorkflowCampaign([{ id: 'hold', command: "(trap '' TERM; sleep 1000) & wait" }]));
    const dir = path.join(root, 'ws', 'runs', 'r1', 'attempts', 'hold', 'hold-a1');
    const file = (name: string): string => path.join(dir, name);

    // A minute of SIGTERM grace: the host is surely inside it when it is killed, however loaded the machine.
    const first = orchestrate(root, 'r1', { killGraceMs: 60_000 });
    const started = await vi.waitFor(() => JSON.parse(fs.readFileSync(file(LOCAL_FILES.started), 'utf8')) as { pid: number }, { timeout: 45_000 });
    const pgid = started.pid;
    const cgroup = fs.existsSync(file(LOCAL_FILES.cgroup)) ? fs.readFileSync(file(LOCAL_FILES.cgroup), 'utf8').trim() : null;
    const members = (): number[] => [...new Set([...groupMembers(pgid), ...(cgroup === null ? [] : cgroupPids(cgroup))])];
    await vi.waitFor(() => expect(members().length, 'the shell and what it left running').toBeGreaterThanOrEqual(2), { timeout: 30_000 });

    // --wait-timeout 0: the command leaves the cancellation to the host (it would otherwise stop the task itself).
    expect((await runCli(['cancel', 'r1', '--json', '--wait-timeout', '0'], { root })).code).toBe(0);
    // The kill marker is written before SIGTERM; the host then waits out its grace: kill it there.
    await vi.waitFor(() => expect(fs.existsSync(file(LOCAL_FILES.killed)), 'the cancel to begin').toBe(true), { timeout: 45_000 });
    await vi.waitFor(() => expect(isProcessAlive(pgid), 'SIGTERM to end the leader').toBe(false), { timeout: 30_000 });
    first.kill();
    await first.done;
    const survivors = members();
    leftovers.push(...survivors);
    expect(survivors.length, 'the task ignores SIGTERM: its processes outlive the crashed host').toBeGreaterThan(0);

    const second = orchestrate(root, 'r1');
    const outcome = await second.done;
    expect(outcome.stdout.trim().split('\n').at(-1)).toBe('CANCELLED');
    expect(members()).toEqual([]);
    for (const pid of survivors) expect(isProcessAlive(pid), `pid ${pid}`).toBe(false);
  }, 180_000);
});
