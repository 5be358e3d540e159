import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { runCli, startCli, type RunningCli } from './harness/cli.ts';
import { oneWorkflowCampaign, tempRoot, type TempRoot } from './harness/workspace.ts';

// `matterstack logs` and what `explain` shows of logs and drivers, through the binary, on the
// embedded log, with real task processes.
const roots: TempRoot[] = [];
const running: RunningCli[] = [];
afterAll(async () => {
  for (const cli of running) if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
  roots.forEach((r) => r.cleanup());
});

// A task that waits for a file `go` in the workspace before it writes its last line and ends.
const WAITS_FOR_GO = 'echo first; while [ ! -e ../../../../../go ]; do sleep 0.05; done; echo second; echo bye >&2';

const CAMPAIGN = oneWorkflowCampaign([
  { id: 'count', command: 'for i in $(seq 1 120); do echo "line $i"; done; echo "err a" >&2; echo "err b" >&2; exit 3' },
  { id: 'gate', kind: 'gate', operatorKey: 'human.default', message: 'ok?' },
]);

function workspace(prefix: string, campaign: string): TempRoot {
  const temp = tempRoot(prefix);
  roots.push(temp);
  temp.workspace('lab', campaign);
  return temp;
}

describe('matterstack logs', () => {
  // Two steps of one run (the second reruns the task), split to keep each test short on a loaded machine.
  let root = '';

  it('tail by default, --lines, --all, --stderr', async () => {
    root = workspace('ms-logs-', CAMPAIGN).root;
    expect((await runCli(['init', 'lab', '--run-id', 'l1'], { root })).code).toBe(0);
    // The gate rejected, the run ends FAILED with count's failure: loop returns.
    expect((await runCli(['step', 'l1'], { root })).code).toBe(0);
    expect((await runCli(['reject', 'l1', 'gate'], { root })).code).toBe(0);
    expect((await runCli(['loop', 'l1'], { root })).code).toBe(10);

    const [tail, two, all, stderr] = await Promise.all([
      runCli(['logs', 'l1', 'count'], { root }),
      runCli(['logs', 'l1', 'count', '--lines', '2'], { root }),
      runCli(['logs', 'l1', 'count', '--all'], { root }),
      runCli(['logs', 'l1', 'count', '--stderr'], { root }),
    ]);
    expect(tail.code, tail.stderr).toBe(0);
    expect(tail.stdout).toBe(Array.from({ length: 50 }, (_, i) => `line ${i + 71}\n`).join(''));
    expect(tail.stderr).toMatch(/task count, attempt 1 \(count-a1, FAILED\) stdout: .*stdout\.log/);
    expect(two.stdout).toBe('line 119\nline 120\n');
    expect(all.stdout).toBe(Array.from({ length: 120 }, (_, i) => `line ${i + 1}\n`).join(''));
    expect(stderr.stdout).toBe('err a\nerr b\n');

  });

  it('--attempt N or id (the latest by default), --json, and named errors with exit 3', async () => {
    expect(root).not.toBe('');
    // A second attempt: the latest by default, the first with --attempt 1 (or its id).
    expect((await runCli(['rerun', 'l1', 'count'], { root })).code).toBe(0);
    expect((await runCli(['loop', 'l1'], { root })).code).toBe(10);
    fs.appendFileSync(path.join(root, 'lab/runs/l1/attempts/count/count-a1/stdout.log'), 'only in the first\n');
    const [latest, first, byId, json] = await Promise.all([
      runCli(['logs', 'l1', 'count', '--lines', '1'], { root }),
      runCli(['logs', 'l1', 'count', '--lines', '1', '--attempt', '1'], { root }),
      runCli(['logs', 'l1', 'count', '--lines', '1', '--attempt', 'count-a1'], { root }),
      runCli(['logs', 'l1', 'count', '--stderr', '--lines', '1', '--json'], { root }),
    ]);
    expect([latest.stdout, first.stdout, byId.stdout]).toEqual(['line 120\n', 'only in the first\n', 'only in the first\n']);
    expect(json.json()).toMatchObject({ attemptId: 'count-a2', attemptNumber: 2, attemptStatus: 'FAILED', stream: 'stderr', text: 'err b\n', size: 12, offset: 6 });

    const errors = await Promise.all([
      runCli(['logs', 'nope', 'count'], { root }),
      runCli(['logs', 'l1', 'nope'], { root }),
      runCli(['logs', 'l1', 'count', '--attempt', '3'], { root }),
      runCli(['logs', 'l1', 'gate'], { root }),
      runCli(['logs', 'l1', 'count', '--lines', '0'], { root }),
    ]);
    expect(errors.map((e) => [e.code, e.stderr])).toEqual([
      [3, 'error: run nope not found\n'],
      [3, 'error: task nope not found in run l1\n'],
      [3, 'error: task count of run l1 has no attempt 3 (it has 1 (count-a1), 2 (count-a2))\n'],
      [2, 'error: task gate runs on operator human.default, which keeps no stdout or stderr (it runs no process)\n'],
      [2, expect.stringContaining('--lines must be a positive integer, got "0"')],
    ]);
  });

  it('-f follows a running attempt until it ends; before it writes anything, logs says so', async () => {
    const temp = workspace('ms-logs-f-', oneWorkflowCampaign([{ id: 'slow', command: WAITS_FOR_GO }]));
    const { root } = temp;
    expect((await runCli(['init', 'lab', '--run-id', 'f1'], { root })).code).toBe(0);
    const loop = startCli(['loop', 'f1'], { root });
    running.push(loop);
    await vi.waitFor(async () => expect((await runCli(['logs', 'f1', 'slow'], { root })).stdout).toBe('first\n'), { timeout: 20_000 });
    const empty = await runCli(['logs', 'f1', 'slow', '--stderr'], { root });
    expect(empty.code).toBe(0);
    expect(empty.stdout).toBe('');
    expect(empty.stderr).toContain('no stderr yet (follow it with -f)');

    const follow = startCli(['logs', 'f1', 'slow', '-f'], { root });
    running.push(follow);
    await vi.waitFor(() => expect(follow.output().stdout).toBe('first\n'), { timeout: 15_000 });
    fs.writeFileSync(path.join(root, 'lab', 'go'), '');
    const followed = await follow.done;
    expect(followed.code, followed.stderr).toBe(0);
    expect(followed.stdout).toBe('first\nsecond\n');
    expect((await loop.done).code).toBe(0);
  });
});

describe('explain shows logs and who drives the run', () => {
  it('a failed attempt: its log paths and the last lines of its stderr', async () => {
    const { root } = workspace('ms-logs-explain-', oneWorkflowCampaign([{ id: 'broken', command: 'for i in $(seq 1 30); do echo "problem $i" >&2; done; exit 4' }]));
    expect((await runCli(['init', 'lab', '--run-id', 'e1'], { root })).code).toBe(0);
    expect((await runCli(['loop', 'e1'], { root })).code).toBe(10);
    const explain = await runCli(['explain', 'e1'], { root });
    const dir = path.join(root, 'lab/runs/e1/attempts/broken/broken-a1');
    expect(explain.stdout).toContain(`stdout: ${path.join(dir, 'stdout.log')}`);
    expect(explain.stdout).toContain(`stderr: ${path.join(dir, 'stderr.log')}`);
    expect(explain.stdout).toContain(['last lines of stderr:', ...Array.from({ length: 10 }, (_, i) => `        | problem ${i + 21}`)].join('\n'));
    expect(explain.stdout).not.toContain('problem 20\n');
    const json = (await runCli(['explain', 'e1', '--json'], { root })).json<{ tasks: { why: { logs: unknown } }[] }>();
    expect(json.tasks[0]?.why.logs).toEqual({ stdout: path.join(dir, 'stdout.log'), stderr: path.join(dir, 'stderr.log'), stderrTail: expect.stringMatching(/^problem 21\n[^]*problem 30\n$/) });
  });

  it('names the loop driving the run instead of advising to start one; advises loop again once it is gone', async () => {
    const { root } = workspace('ms-logs-driver-', oneWorkflowCampaign([{ id: 'slow', command: WAITS_FOR_GO }]));
    expect((await runCli(['init', 'lab', '--run-id', 'd1'], { root })).code).toBe(0);
    const loop = startCli(['loop', 'd1'], { root });
    running.push(loop);
    const explain = await vi.waitFor(async () => {
      const out = (await runCli(['explain', 'd1'], { root })).stdout;
      expect(out).toContain('RUNNING since');
      return out;
    }, { timeout: 20_000 });
    expect(explain).toContain(`driven by matterstack loop (pid ${loop.child.pid} on `);
    expect(explain).toContain(`nothing to start: matterstack loop (pid ${loop.child.pid}`);
    expect(explain).not.toContain('keep it going with `matterstack loop');
    expect((await runCli(['explain', 'd1', '--json'], { root })).json<{ driver: unknown }>().driver).toMatchObject({ driver: 'matterstack loop', pid: loop.child.pid, checked: true });

    loop.child.kill('SIGINT');
    expect((await loop.done).code).toBe(130);
    const after = await runCli(['explain', 'd1'], { root });
    expect(after.stdout).not.toContain('driven by');
    expect(after.stdout).toContain('keep it going with `matterstack loop d1`');
    fs.writeFileSync(path.join(root, 'lab', 'go'), '');
  });
});
