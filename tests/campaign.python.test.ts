import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignTimeoutMs } from '../campaign/campaign-call.ts';
import { PYTHON_HELPER_DIR } from '../campaign/command-campaign.ts';
import { isProcessAlive } from '../operators/process-group.ts';
import { listWorkspaces } from '../workspace/workspace.ts';
import { runCli, type CliResult } from './harness/cli.ts';
import { pythonCampaign, realPython, writeWorkspace } from './harness/python-workspace.ts';
import { tempRoot, type TempRoot } from './harness/workspace.ts';

// Campaigns in Python and any language, through the real binary and real python3 processes: one
// process per call speaking the JSON protocol; every failure fails the campaign step with its reason.

let temp: TempRoot;
let python: string;
beforeAll(() => {
  temp = tempRoot('ms-py-');
  python = realPython();
});
afterAll(() => temp.cleanup());

const FIRST = [{ id: 'a', command: `echo '{"x": 3}' > results.json` }];

/** The binary with the real interpreter (default `python3` only where a test says so). */
function cli(args: string[], env: Record<string, string | undefined> = { MATTERSTACK_PYTHON: python }): Promise<CliResult> {
  return runCli(args, { root: temp.root, env });
}

async function init(slug: string, env?: Record<string, string | undefined>): Promise<string> {
  const created = await cli(['init', slug, '--json'], env);
  expect(created.code, created.stderr).toBe(0);
  return created.json<{ runId: string }>().runId;
}

async function view(runId: string): Promise<{ status: string; campaignState: unknown; reason: string | null }> {
  const status = (await cli(['status', runId, '--json'])).json<{ status: string; campaignState: { state: unknown } | null }>();
  const explain = (await cli(['explain', runId, '--json'])).json<{ reason: string | null }>();
  return { status: status.status, campaignState: status.campaignState?.state, reason: explain.reason };
}

/** init + loop: the run's final view. */
async function runToEnd(slug: string, env?: Record<string, string | undefined>): Promise<{ runId: string; loop: CliResult; status: string; campaignState: unknown; reason: string | null }> {
  const runId = await init(slug, env);
  const loop = await cli(['loop', runId], env);
  return { runId, loop, ...(await view(runId)) };
}

describe('a campaign.py in the workspace', () => {
  it('runs with the shipped helper and the default python3: init, loop to COMPLETED; analyze gets the results; print() does not spoil the reply', async () => {
    writeWorkspace(temp.root, 'py_ok', {
      'campaign.py': pythonCampaign({ firstTasks: FIRST, analyze: 'print("analyzing", sorted(results))\nreturn {"x": results["a"]["data"]["x"], "status": results["a"]["status"]}' }),
    });
    const end = await runToEnd('py_ok', {});
    expect(end.loop.code, end.loop.stderr).toBe(0);
    expect(end.status).toBe('COMPLETED');
    expect(end.campaignState).toEqual({ x: 3, status: 'COMPLETED' });
    expect(listWorkspaces(temp.root)).toContain('py_ok');
  }, 120_000);

  it('an exception fails the step with the traceback\'s last lines in explain; revive after the fix completes the run', async () => {
    const broken = pythonCampaign({ firstTasks: FIRST, analyze: 'raise ValueError("no luck: " + str(results["a"]["data"]["x"]))' });
    writeWorkspace(temp.root, 'py_raise', { 'campaign.py': broken });
    const end = await runToEnd('py_raise');
    expect(end.loop.code).toBe(10);
    expect(end.status).toBe('FAILED');
    expect(end.reason).toMatch(
      /^campaign failed: CAMPAIGN_ERROR: campaign py_raise: analyze failed: \S+ campaign\.py exited with code 1: File "\/?.*campaign\.py", line \d+, in analyze \| raise ValueError\("no luck: " \+ str\(results\["a"\]\["data"\]\["x"\]\)\) \| ValueError: no luck: 3$/,
    );
    writeWorkspace(temp.root, 'py_raise', { 'campaign.py': broken.replace(/raise ValueError\(.*\)/, 'return {"fixed": True}') });
    expect((await cli(['revive', end.runId])).code).toBe(0);
    expect((await cli(['loop', end.runId])).code).toBe(0);
    expect(await view(end.runId)).toMatchObject({ status: 'COMPLETED', campaignState: { fixed: true } });
  }, 120_000);

  it('stdout that is not the reply, an invalid workflow, a non-zero exit: each fails the step naming what is wrong', async () => {
    writeWorkspace(temp.root, 'py_noise', { 'campaign.py': pythonCampaign({ firstTasks: FIRST, analyze: 'sys.__stdout__.write("oops ")\nreturn 1' }) });
    writeWorkspace(temp.root, 'py_badflow', { 'campaign.py': pythonCampaign({ firstTasks: FIRST, analyze: 'return 1', later: '{"tasks": [{"id": "b", "comand": "true"}]} if state == 1 else None' }) });
    writeWorkspace(temp.root, 'py_exit', { 'campaign.py': pythonCampaign({ firstTasks: FIRST, analyze: 'sys.stderr.write("disk full\\n")\nsys.exit(3)' }) });
    const [noise, badflow, exit] = await Promise.all([runToEnd('py_noise'), runToEnd('py_badflow'), runToEnd('py_exit')]);
    expect(noise.reason).toMatch(/^campaign failed: CAMPAIGN_ERROR: campaign py_noise: analyze failed: its stdout is not one JSON document \(.*\); stdout carries only the reply, print anything else to stderr; stdout began "oops \{/);
    expect(badflow.reason).toBe('campaign failed: INVALID_WORKFLOW: campaign py_badflow: workflow, task b, field comand: unknown field(s) comand');
    expect(exit.reason).toMatch(/^campaign failed: CAMPAIGN_ERROR: campaign py_exit: analyze failed: \S+ campaign\.py exited with code 3: disk full$/);
    for (const end of [noise, badflow, exit]) expect([end.loop.code, end.status]).toEqual([10, 'FAILED']);
  }, 180_000);

  it('an invalid first workflow fails init naming the task and field, and creates no run', async () => {
    writeWorkspace(temp.root, 'py_badfirst', { 'campaign.py': pythonCampaign({ firstTasks: [{ id: 'a', command: 'true', cpus: 4 }], analyze: 'return 1' }) });
    const created = await cli(['init', 'py_badfirst']);
    expect(created.code).toBe(6);
    expect(created.stderr).toContain('campaign py_badfirst: workflow, task a, field cpus: unknown field(s) cpus');
    expect(fs.existsSync(path.join(temp.root, 'py_badfirst', 'runs'))).toBe(false);
  }, 60_000);
});

describe('a campaign command configured in operators.yaml', () => {
  it('any executable gets the documented requests on stdin: call, run id, iteration, state, results', async () => {
    // A campaign in plain JavaScript, speaking the protocol itself (no helper): it records each request.
    const script = `
const fs = require('node:fs');
const request = JSON.parse(fs.readFileSync(0, 'utf8'));
fs.appendFileSync('requests.jsonl', JSON.stringify({ ...request, secret: process.env.MS_SCIENTIST_PASSWORD ?? null, pythonpath: process.env.PYTHONPATH }) + '\\n');
let value = {};
if (request.method === 'plan') value = request.state === null ? { tasks: [{ id: 'a', command: 'true' }] } : null;
if (request.method === 'analyze') value = { seen: Object.keys(request.results), after: request.iteration };
process.stdout.write(JSON.stringify({ id: request.id, ok: true, value }));
`;
    const dir = writeWorkspace(temp.root, 'js_cmd', { 'my-campaign.cjs': script, 'operators.yaml': 'campaign:\n  command: [node, my-campaign.cjs]\n' });
    // The orchestrator's NATS credentials stay out of the campaign's environment.
    const end = await runToEnd('js_cmd', { MATTERSTACK_PYTHON: python, MS_SCIENTIST_PASSWORD: 'hunter2' });
    expect(end.status).toBe('COMPLETED');
    const requests = fs.readFileSync(path.join(dir, 'requests.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(requests.map((r) => [r.method, r.iteration ?? null])).toEqual([
      ['load', null],
      ['plan', 0],
      ['analyze', 0],
      ['plan', 1],
    ]);
    expect(listWorkspaces(temp.root)).toContain('js_cmd');
    expect(requests.every((r) => r.secret === null && String(r.pythonpath).split(path.delimiter)[0] === PYTHON_HELPER_DIR)).toBe(true);
    expect(requests[1]).toMatchObject({ runId: end.runId, state: null });
    expect(requests[2]).toMatchObject({ runId: end.runId, state: null, results: { a: { status: 'COMPLETED' } } });
    expect(requests[3]).toMatchObject({ runId: end.runId, state: { seen: ['a'], after: 0 } });
  }, 120_000);

  it('a call past campaign.timeout_seconds fails with CAMPAIGN_TIMEOUT, and everything it started is killed', async () => {
    const analyze = 'import subprocess\nchild = subprocess.Popen(["sleep", "300"])\nopen("child.pid", "w").write(str(child.pid))\ntime.sleep(300)';
    const dir = writeWorkspace(temp.root, 'py_slow', { 'campaign.py': pythonCampaign({ firstTasks: FIRST, analyze }), 'operators.yaml': 'campaign:\n  timeout_seconds: 3\n' });
    const end = await runToEnd('py_slow');
    expect(end.status).toBe('FAILED');
    expect(end.reason).toMatch(/^campaign failed: CAMPAIGN_TIMEOUT: campaign py_slow: analyze did not return within 3000 ms \(\S+ campaign\.py and its processes were killed\)/);
    const pid = Number(fs.readFileSync(path.join(dir, 'child.pid'), 'utf8'));
    expect(isProcessAlive(pid)).toBe(false);
  }, 120_000);

  it('the timeout: the library option, then MATTERSTACK_CAMPAIGN_TIMEOUT_MS, then the workspace\'s timeout_seconds, then 10 minutes', () => {
    expect(campaignTimeoutMs(undefined, 3000)).toBe(3000);
    expect(campaignTimeoutMs(500, 3000)).toBe(500);
    process.env.MATTERSTACK_CAMPAIGN_TIMEOUT_MS = '700';
    try {
      expect(campaignTimeoutMs(undefined, 3000)).toBe(700);
    } finally {
      delete process.env.MATTERSTACK_CAMPAIGN_TIMEOUT_MS;
    }
    expect(campaignTimeoutMs()).toBe(600_000);
  });

  it('a bad campaign section or a missing program fails init with a clear error, and creates no run', async () => {
    writeWorkspace(temp.root, 'cfg_string', { 'operators.yaml': 'campaign:\n  command: julia campaign.jl\n' });
    writeWorkspace(temp.root, 'cfg_extra', { 'operators.yaml': 'campaign:\n  command: [julia]\n  timeout: 5\n' });
    writeWorkspace(temp.root, 'cfg_missing', { 'operators.yaml': 'campaign:\n  command: [no-such-program-xyz, campaign.jl]\n' });
    const [string, extra, missing] = await Promise.all(['cfg_string', 'cfg_extra', 'cfg_missing'].map((slug) => cli(['init', slug])));
    expect([string?.code, extra?.code, missing?.code]).toEqual([6, 6, 6]);
    expect(string?.stderr).toMatch(/operators\.yaml:2: campaign, field command: must be a list: the program and its arguments \(no shell\), e\.g\. \[julia, campaign\.jl\]/);
    expect(extra?.stderr).toMatch(/operators\.yaml:3: campaign, field timeout: unknown field "timeout"/);
    expect(missing?.stderr).toContain('campaign cfg_missing: load failed: cannot start no-such-program-xyz campaign.jl: spawn no-such-program-xyz ENOENT');
    for (const slug of ['cfg_string', 'cfg_extra', 'cfg_missing']) expect(fs.existsSync(path.join(temp.root, slug, 'runs'))).toBe(false);
  }, 120_000);
});
