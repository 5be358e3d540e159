import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { initializeRun } from '../host/run-lifecycle.ts';
import { runUntilCompletion } from '../host/drive-run.ts';
import { runCli } from './harness/cli.ts';
import { oneWorkflowCampaign, tempRoot, type TempRoot } from './harness/workspace.ts';

const roots: TempRoot[] = [];
afterAll(() => roots.forEach((r) => r.cleanup()));

const FAILING = oneWorkflowCampaign([
  { id: 'make', command: 'echo made > made.txt' },
  { id: 'broken', command: 'echo oops >&2; exit 4', dependencies: ['make'] },
  { id: 'after', command: 'true', dependencies: ['broken'] },
]);

describe('matterstack explain / replay / export-evidence through the binary', () => {
  it('explains a failed run, replays and verifies its log, exports identical evidence twice, and --verify catches tampering', async () => {
    const temp = tempRoot('ms-cli-views-');
    roots.push(temp);
    temp.workspace('lab', FAILING);
    const { root } = temp;
    // The run is made in-process: the views are what this test is about (init and loop have CLI tests of their own).
    const run = await initializeRun({ root, workspace: 'lab', runId: 'v1' });
    const runId = run.runId;
    try {
      expect(await runUntilCompletion(run)).toBe('FAILED');
    } finally {
      await run.close();
    }

    const explain = await runCli(['explain', runId], { root });
    expect(explain.code).toBe(0);
    expect(explain.stdout).toContain('broken');
    expect(explain.stdout).toContain('exit code 4');
    expect(explain.stdout).toMatch(/after.*SKIPPED/);
    expect(explain.stdout).toContain(`matterstack rerun ${runId} broken`);
    const explainJson = (await runCli(['explain', runId, '--json'], { root })).json<{ status: string; tasks: { id: string }[] }>();
    expect(explainJson.status).toBe('FAILED');
    expect(explainJson.tasks.map((t) => t.id)).toEqual(['broken', 'after']);

    const timeline = await runCli(['replay', runId], { root });
    expect(timeline.code).toBe(0);
    expect(timeline.stdout).toContain('RUN.CREATED');
    const onlyMake = (await runCli(['replay', runId, '--actor', 'make', '--json'], { root })).json<{ actor: string }[]>();
    expect(onlyMake.length).toBeGreaterThan(0);
    expect(onlyMake.every((entry) => entry.actor.startsWith('make'))).toBe(true);
    const at = await runCli(['replay', runId, '--at', '3'], { root });
    expect(at.stdout).toContain('State after seq 3');
    expect((await runCli(['replay', runId, '--at', 'zero'], { root })).code).toBe(2);
    expect((await runCli(['replay', runId, '--verify'], { root })).code).toBe(0);

    const first = await runCli(['export-evidence', runId, '--json'], { root });
    const paths = first.json<{ bundlePath: string; reportPath: string }>();
    const bundle = fs.readFileSync(paths.bundlePath, 'utf8');
    const report = fs.readFileSync(paths.reportPath, 'utf8');
    expect((await runCli(['export-evidence', runId], { root })).code).toBe(0);
    expect(fs.readFileSync(paths.bundlePath, 'utf8')).toBe(bundle);
    expect(fs.readFileSync(paths.reportPath, 'utf8')).toBe(report);
    expect(report).toContain('broken');

    // Tamper with one logged state: verify names the record and exits non-zero.
    const db = new Database(path.join(root, '.matterstack', 'events.sqlite'));
    db.prepare(`UPDATE events SET to_state = '"paused"' WHERE run_id = ? AND seq = 3`).run(runId);
    db.close();
    const verify = await runCli(['replay', runId, '--verify'], { root });
    expect(verify.code).toBe(9);
    expect(verify.stdout + verify.stderr).toContain('3');
  });

  it('explain on an unknown run is one error line with the not-found exit code', async () => {
    const temp = tempRoot('ms-cli-views-');
    roots.push(temp);
    temp.workspace('lab', FAILING);
    const result = await runCli(['explain', 'nope'], { root: temp.root });
    expect(result.code).toBe(3);
    expect(result.stderr.trim().split('\n')).toEqual(['error: run nope not found']);
  });
});
