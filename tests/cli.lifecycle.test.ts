import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { runCli, startCli } from './harness/cli.ts';
import { oneWorkflowCampaign, tempRoot, type TempRoot } from './harness/workspace.ts';

// Every test spawns the real binary (`node bin/matterstack.js`) in its own temporary root.
const roots: TempRoot[] = [];
afterAll(() => roots.forEach((r) => r.cleanup()));
function rootWith(campaign: string): TempRoot {
  const temp = tempRoot('ms-cli-');
  roots.push(temp);
  temp.workspace('lab', campaign);
  return temp;
}

const TWO_TASKS = oneWorkflowCampaign([
  { id: 'make', command: 'date +%s%N > stamp.txt' },
  { id: 'use', command: 'true', dependencies: ['make'] },
]);

const GATED = oneWorkflowCampaign([
  { id: 'gate', kind: 'gate', message: 'Run the expensive step?' },
  { id: 'expensive', command: 'echo done > out.txt', dependencies: ['gate'] },
]);

interface StatusJson {
  runId: string;
  workspace: string;
  status: string;
  phase: string;
  iteration: number;
  tasks: { id: string; status: string; operatorKey: string | null; attempts: number }[];
  gates: { taskId: string; message: string; approve: string }[];
}
interface AttemptJson {
  attemptId: string;
  status: string;
  operatorKey: string;
  externalId: string | null;
  dir: string;
  reason: string | null;
}

// Seven tests at once, each spawning the CLI a dozen times, on two cores: each test's wall time is mostly waiting
// for the others' processes (50 s of the default 60 s in CI), so they get a budget that fits that contention.
describe.concurrent('matterstack CLI: a run from init to the end (real processes, embedded log)', { timeout: 150_000 }, () => {
  it('init → loop → status --json (SPEC shape), list / list --all, attempts --json, rerun keeps the first attempt', async () => {
    const { root } = rootWith(TWO_TASKS);
    const init = await runCli(['init', 'lab', '--json'], { root });
    expect(init.code).toBe(0);
    const { runId } = init.json<{ runId: string }>();
    expect(runId).toMatch(/^\d{8}_\d{6}_[0-9a-f]{8}$/);

    const listed = await runCli(['list', '--json'], { root });
    expect(listed.json()).toEqual([expect.objectContaining({ runId, workspace: 'lab', status: 'PENDING' })]);

    const loop = await runCli(['loop', runId], { root });
    expect(loop.code).toBe(0);
    expect(loop.stdout).toContain(`run ${runId} ended COMPLETED`);

    const status = (await runCli(['status', runId, '--json'], { root })).json<StatusJson>();
    expect(status).toMatchObject({ runId, workspace: 'lab', status: 'COMPLETED', phase: 'completed', iteration: 0 });
    expect(status.tasks.map(({ id, status: s, operatorKey, attempts }) => ({ id, status: s, operatorKey, attempts }))).toEqual([
      { id: 'make', status: 'COMPLETED', operatorKey: 'local.default', attempts: 1 },
      { id: 'use', status: 'COMPLETED', operatorKey: 'local.default', attempts: 1 },
    ]);

    const [active, all] = await Promise.all([runCli(['list', '--json'], { root }), runCli(['list', '--all', '--json'], { root })]);
    expect(active.json()).toEqual([]);
    expect(all.json()).toEqual([expect.objectContaining({ runId, workspace: 'lab', status: 'COMPLETED' })]);

    const rerun = await runCli(['rerun', runId, 'make'], { root });
    expect(rerun.code).toBe(0);
    expect(rerun.stdout).toMatch(/^accepted \(seq \d+\)\n$/);
    expect((await runCli(['loop', runId, '--json'], { root })).code).toBe(0);

    const attempts = (await runCli(['attempts', runId, 'make', '--json'], { root })).json<AttemptJson[]>();
    expect(attempts.map((a) => [a.attemptId, a.status, a.operatorKey])).toEqual([
      ['make-a1', 'COMPLETED', 'local.default'],
      ['make-a2', 'COMPLETED', 'local.default'],
    ]);
    for (const attempt of attempts) {
      expect(Object.keys(attempt)).toEqual(expect.arrayContaining(['attemptId', 'status', 'operatorKey', 'externalId', 'dir', 'reason']));
      expect(path.isAbsolute(attempt.dir)).toBe(true);
      expect(fs.existsSync(path.join(attempt.dir, 'stamp.txt'))).toBe(true);
    }
    expect(attempts[0]!.dir).not.toBe(attempts[1]!.dir);
  });

  it('step advances one cycle at a time and prints the status; a finished run stays finished', async () => {
    const { root } = rootWith(TWO_TASKS);
    expect((await runCli(['init', 'lab', '--run-id', 'stepwise'], { root })).stdout).toBe('stepwise\n');
    const first = await runCli(['step', 'stepwise'], { root });
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^run stepwise: RUNNING \(phase \w+, iteration 0\)/);
    let status = '';
    for (let i = 0; i < 15 && status !== 'COMPLETED'; i++) status = (await runCli(['step', 'stepwise', '--json'], { root })).json<StatusJson>().status;
    expect(status).toBe('COMPLETED');
    const again = await runCli(['step', 'stepwise'], { root });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('COMPLETED');
  });

  it('a gate: loop runs in one process while approve comes from another, and the loop finishes COMPLETED', async () => {
    const { root } = rootWith(GATED);
    await runCli(['init', 'lab', '--run-id', 'gated'], { root });
    const loop = startCli(['loop', 'gated', '--json'], { root });
    const waiting = await vi.waitFor(async () => {
      const gate = (await runCli(['status', 'gated', '--json'], { root })).json<StatusJson>().gates[0];
      if (gate === undefined) throw new Error('no gate waits for approval yet');
      return gate;
    }, { timeout: 30_000 });
    expect(waiting).toMatchObject({ taskId: 'gate', message: 'Run the expensive step?' });
    expect(waiting.approve).toContain('approve gated gate');
    const approve = await runCli(['approve', 'gated', 'gate', '--comment', 'go ahead', '--json'], { root });
    expect(approve.json()).toEqual({ accepted: true, seq: expect.any(Number) });
    const finished = await loop.done;
    expect(finished.code).toBe(0);
    const lines = finished.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string; runs?: unknown });
    expect(lines.at(-1)).toEqual({ event: 'end', runs: [{ runId: 'gated', status: 'COMPLETED' }], exitCode: 0 });
    expect(lines.some((l) => l.event === 'progress')).toBe(true);
    const status = (await runCli(['status', 'gated', '--json'], { root })).json<StatusJson>();
    expect(status.tasks.map((t) => t.status)).toEqual(['COMPLETED', 'COMPLETED']);
  });

  it('pause / resume, a second pause is rejected, cancel stops the running task and loop exits 11', async () => {
    // Far longer than the commands below take on a loaded machine (seven CLI calls took 128 s once): a
    // 30 s task could end before the cancel, and then COMPLETED is the right outcome, not a race.
    const { root } = rootWith(oneWorkflowCampaign([{ id: 'long', command: 'sleep 600' }]));
    await runCli(['init', 'lab', '--run-id', 'halt'], { root });
    expect((await runCli(['step', 'halt'], { root })).code).toBe(0);
    expect((await runCli(['pause', 'halt'], { root })).stdout).toMatch(/^accepted \(seq \d+\)/);
    const twice = await runCli(['pause', 'halt'], { root });
    expect(twice.code).toBe(4);
    expect(twice.stderr).toBe('error: pause rejected for run halt: the run is already paused [ALREADY_PAUSED]\n');
    expect((await runCli(['status', 'halt', '--json'], { root })).json<StatusJson>().status).toBe('PAUSED');
    expect((await runCli(['resume', 'halt'], { root })).code).toBe(0);
    expect((await runCli(['cancel', 'halt', '--by', 'tester'], { root })).code).toBe(0);
    const loop = await runCli(['loop', 'halt'], { root });
    expect(loop.code).toBe(11);
    const [attempt] = (await runCli(['attempts', 'halt', 'long', '--json'], { root })).json<AttemptJson[]>();
    expect(attempt?.status).toBe('CANCELLED');
  });

  it('reject fails the gate, its dependant is SKIPPED, the run FAILS (exit 10), and revive brings it back', async () => {
    const { root } = rootWith(GATED);
    await runCli(['init', 'lab', '--run-id', 'refused'], { root });
    await runCli(['step', 'refused'], { root });
    expect((await runCli(['reject', 'refused', 'gate', '--comment', 'too expensive'], { root })).code).toBe(0);
    expect((await runCli(['loop', 'refused'], { root })).code).toBe(10);
    const status = (await runCli(['status', 'refused', '--json'], { root })).json<StatusJson>();
    expect(status.status).toBe('FAILED');
    expect(status.tasks.map((t) => [t.id, t.status])).toEqual([
      ['gate', 'FAILED'],
      ['expensive', 'SKIPPED'],
    ]);
    expect((await runCli(['revive', 'refused'], { root })).code).toBe(0);
    expect((await runCli(['status', 'refused', '--json'], { root })).json<StatusJson>().status).toBe('RUNNING');
  });

  it('Ctrl-C stops loop cleanly (exit 130) while the task keeps running, and the next loop finishes the run', async () => {
    const { root } = rootWith(oneWorkflowCampaign([{ id: 'slow', command: 'sleep 1.5 && echo ok > out.txt' }]));
    await runCli(['init', 'lab', '--run-id', 'interrupted'], { root });
    const loop = startCli(['loop', 'interrupted', '--json'], { root });
    await vi.waitFor(() => expect(loop.output().stdout).toContain('"RUNNING":1'), { timeout: 30_000 });
    loop.child.kill('SIGINT');
    const stopped = await loop.done;
    expect(stopped.code).toBe(130);
    expect(stopped.stderr).toContain('resume with: matterstack loop interrupted');
    const resumed = await runCli(['loop', 'interrupted'], { root });
    expect(resumed.code).toBe(0);
    const [attempt] = (await runCli(['attempts', 'interrupted', 'slow', '--json'], { root })).json<AttemptJson[]>();
    expect(attempt?.status).toBe('COMPLETED');
    expect(fs.readFileSync(path.join(attempt!.dir, 'out.txt'), 'utf8')).toBe('ok\n');
  });

  it('loop without a run id drives every active run of every workspace until none is active', async () => {
    const temp = rootWith(TWO_TASKS);
    temp.workspace('nested/other', oneWorkflowCampaign([{ id: 'solo', command: 'true' }]));
    await Promise.all([runCli(['init', 'lab', '--run-id', 'one'], { root: temp.root }), runCli(['init', 'nested/other', '--run-id', 'two'], { root: temp.root })]);
    const loop = await runCli(['loop'], { root: temp.root });
    expect(loop.code).toBe(0);
    expect(loop.stdout).toContain('run one ended COMPLETED');
    expect(loop.stdout).toContain('run two ended COMPLETED');
    expect((await runCli(['list', '--json'], { root: temp.root })).json()).toEqual([]);
  });
});
