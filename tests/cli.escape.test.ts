import os from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { initializeRun, openRun } from '../host/run-lifecycle.ts';
import { stepRun } from '../host/drive-run.ts';
import { runCli } from './harness/cli.ts';
import { oneWorkflowCampaign, tempRoot, type TempRoot } from './harness/workspace.ts';

const roots: TempRoot[] = [];
afterAll(() => roots.forEach((r) => r.cleanup()));

// A control character anywhere in human output (ESC of an ANSI sequence, CR, a newline inside a field).
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;
const FORGED_BY = 'mallory\u001b[2K\r\n#1 2020-01-01T00:00:00.000Z run CMD.APPROVE waiting → done';
const GATE_MESSAGE = 'Go on?\u001b[31m\nrun gated: COMPLETED';

/** One cycle of run `runId`, in-process: how the run gets there is not what these tests are about. */
async function step(root: string, runId: string): Promise<void> {
  const run = await openRun({ root, runId });
  try {
    await stepRun(run);
  } finally {
    await run.close();
  }
}

describe('user and campaign text is escaped in human output (real processes, embedded log)', () => {
  it('a --by with ANSI codes and a newline, a gate message with both: replay, status, explain, attempts show them escaped', async () => {
    const temp = tempRoot('ms-escape-');
    roots.push(temp);
    temp.workspace('lab', oneWorkflowCampaign([{ id: 'gate', kind: 'gate', message: GATE_MESSAGE }]));
    const { root } = temp;
    await (await initializeRun({ root, workspace: 'lab', runId: 'gated' })).close();
    await step(root, 'gated');
    expect((await runCli(['reject', 'gated', 'gate', '--by', FORGED_BY, '--comment', 'no\u001b]0;title\u0007'], { root })).code).toBe(0);
    await step(root, 'gated');

    const replay = await runCli(['replay', 'gated'], { root });
    expect(replay.code).toBe(0);
    expect(replay.stdout).not.toMatch(RAW_CONTROL);
    expect(replay.stdout.split('\n').filter((l) => l.startsWith('#1 '))).toHaveLength(1);
    expect(replay.stdout).toContain('by mallory\\u001b[2K\\r\\n#1 2020');

    const views = [['status', 'gated'], ['explain', 'gated'], ['attempts', 'gated', 'gate']];
    const shownAll = await Promise.all(views.map((args) => runCli(args, { root })));
    for (const [i, args] of views.entries()) {
      const shown = shownAll[i]!;
      expect(shown.code, args.join(' ')).toBe(0);
      expect(shown.stdout, args.join(' ')).not.toMatch(RAW_CONTROL);
      expect(shown.stdout.split('\n').some((l) => l.startsWith('run gated: COMPLETED')), args.join(' ')).toBe(false);
    }
  });

  it('on the embedded log the OS account is recorded with each command; --by is shown as the claim it is', async () => {
    const temp = tempRoot('ms-escape-');
    roots.push(temp);
    temp.workspace('lab', oneWorkflowCampaign([{ id: 'gate', kind: 'gate', message: 'go?' }]));
    const { root } = temp;
    await (await initializeRun({ root, workspace: 'lab', runId: 'who' })).close();
    expect((await runCli(['pause', 'who', '--by', 'bob'], { root })).code).toBe(0);
    const replay = await runCli(['replay', 'who', '--type', 'CMD.'], { root });
    expect(replay.stdout).toContain(`command pause by bob (as ${os.userInfo().username}) accepted`);
  });
});
