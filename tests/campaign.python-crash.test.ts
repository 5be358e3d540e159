import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { isProcessAlive } from '../operators/process-group.ts';
import { runCli, startCli } from './harness/cli.ts';
import { pythonCampaign, realPython, writeWorkspace } from './harness/python-workspace.ts';
import { tempRoot, type TempRoot } from './harness/workspace.ts';

// A campaign call is an effect like any other: a `loop` killed (-9) during a slow Python analyze
// leaves no result in the log; the next `loop` repeats the call, and the log holds one result.

let temp: TempRoot;
let env: Record<string, string>;
beforeAll(() => {
  temp = tempRoot('ms-py-crash-');
  env = { MATTERSTACK_PYTHON: realPython() };
});
afterAll(() => temp.cleanup());

// Counts its calls in a file (for the test only: real campaigns are functions of their input);
// the first call hangs, as a slow analyze would when the orchestrator dies.
const ANALYZE = `with open("calls.txt", "a") as calls:
    calls.write("analyze\\n")
if len(open("calls.txt").read().split()) == 1:
    open("first.pid", "w").write(str(os.getpid()))
    time.sleep(120)
return {"done": True, "tasks": sorted(results)}`;

describe('kill -9 of loop during a Python analyze', () => {
  it('the restarted loop repeats the call and completes; the log holds one result; the orphaned call ends itself', async () => {
    const dir = writeWorkspace(temp.root, 'py_crash', { 'campaign.py': pythonCampaign({ firstTasks: [{ id: 'a', command: 'true' }], analyze: ANALYZE }) });
    const init = await runCli(['init', 'py_crash', '--json'], { root: temp.root, env });
    expect(init.code, init.stderr).toBe(0);
    const { runId } = init.json<{ runId: string }>();

    const first = startCli(['loop', runId], { root: temp.root, env });
    const pidFile = path.join(dir, 'first.pid');
    await vi.waitFor(() => expect(fs.existsSync(pidFile) ? fs.readFileSync(pidFile, 'utf8') : '', 'the first analyze call').not.toBe(''), { timeout: 60_000, interval: 50 });
    first.child.kill('SIGKILL');
    expect((await first.done).code).toBeNull();

    // The helper notices its orchestrator is gone and exits: no orphan finishes a call nobody awaits.
    const orphan = Number(fs.readFileSync(pidFile, 'utf8'));
    await vi.waitFor(() => expect(isProcessAlive(orphan), 'the orphaned call to end').toBe(false), { timeout: 15_000, interval: 50 });

    const second = await runCli(['loop', runId], { root: temp.root, env });
    expect(second.code, second.stderr).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'calls.txt'), 'utf8')).toBe('analyze\nanalyze\n');

    const records = (await runCli(['replay', runId, '--json'], { root: temp.root })).json<{ type: string }[]>();
    expect(records.filter((r) => r.type === 'CAMPAIGN.PLANNED')).toHaveLength(2); // init's plan, then one result of the repeated call
    expect(records.filter((r) => r.type === 'CAMPAIGN.FAILED')).toHaveLength(0);
    const status = (await runCli(['status', runId, '--json'], { root: temp.root })).json<{ status: string; campaignState: { state: unknown } }>();
    expect(status).toMatchObject({ status: 'COMPLETED', campaignState: { state: { done: true, tasks: ['a'] } } });
    expect((await runCli(['replay', runId, '--verify'], { root: temp.root })).code).toBe(0);
  }, 240_000);
});
