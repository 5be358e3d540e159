import fs from 'node:fs';
import path from 'node:path';
import { verifyAndClose } from './harness/verify-and-close.ts';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { initializeRun, openRun, sendCommand } from '../host/run-lifecycle.ts';
import { runUntilCompletion } from '../host/drive-run.ts';
import { getRunStatus, listAttempts } from '../projections/queries.ts';
import { oneWorkflowCampaign, tempRoot, type TempRoot } from './harness/workspace.ts';

let temp: TempRoot;
afterEach(() => temp?.cleanup());

/** A shell command that records how many marked tasks run at once, then holds its slot briefly. */
function slotProbe(markDir: string, id: string): string {
  return `mkdir -p ${markDir}/running && touch ${markDir}/running/${id} && ls ${markDir}/running | wc -l >> ${markDir}/concurrency && sleep 0.3 && rm ${markDir}/running/${id}`;
}

function maxConcurrency(markDir: string): number {
  const lines = fs.readFileSync(path.join(markDir, 'concurrency'), 'utf8').trim().split('\n');
  return Math.max(...lines.map(Number));
}

describe('host end to end on the embedded log (real processes)', () => {
  it('allowFailure lets the run complete although the task failed', async () => {
    temp = tempRoot();
    temp.workspace('ws', oneWorkflowCampaign([{ id: 'flaky', command: 'exit 1', allowFailure: true }, { id: 'ok', command: 'true' }]));
    const run = await initializeRun({ root: temp.root, workspace: 'ws', runId: 'allow' });
    try {
      expect(await runUntilCompletion(run)).toBe('COMPLETED');
      const tasks = getRunStatus(await run.store.views(), 'allow')?.tasks.map((t) => [t.id, t.status]);
      expect(tasks).toEqual([
        ['flaky', 'FAILED'],
        ['ok', 'COMPLETED'],
      ]);
    } finally {
      await verifyAndClose(run);
    }
  });

  it('the global cap holds: never more than maxConcurrent task processes at once (counted by the tasks)', async () => {
    temp = tempRoot();
    const mark = path.join(temp.root, 'marks');
    const tasks = ['a', 'b', 'c', 'd', 'e', 'f'].map((id) => ({ id, command: slotProbe(mark, id) }));
    temp.workspace('ws', oneWorkflowCampaign(tasks));
    const run = await initializeRun({ root: temp.root, workspace: 'ws', runId: 'cap', maxConcurrent: 2 });
    try {
      expect(await runUntilCompletion(run)).toBe('COMPLETED');
      expect(maxConcurrency(mark)).toBeLessThanOrEqual(2);
      expect(fs.readFileSync(path.join(mark, 'concurrency'), 'utf8').trim().split('\n')).toHaveLength(6);
    } finally {
      await verifyAndClose(run);
    }
  });

  it("an operator's own max_concurrent from operators.yaml holds under a larger global cap", async () => {
    temp = tempRoot();
    const mark = path.join(temp.root, 'marks');
    const tasks = ['a', 'b', 'c', 'd', 'e'].map((id) => ({ id, command: slotProbe(mark, id) }));
    temp.workspace('ws', oneWorkflowCampaign(tasks), 'defaults:\n  max_concurrent_global: 10\noperators:\n  local.default:\n    kind: local\n    max_concurrent: 1\n');
    const run = await initializeRun({ root: temp.root, workspace: 'ws', runId: 'opcap' });
    try {
      expect(await runUntilCompletion(run)).toBe('COMPLETED');
      expect(maxConcurrency(mark)).toBe(1);
    } finally {
      await verifyAndClose(run);
    }
  });

  it('an operators.yaml holding only defaults is valid: the built-in local operator runs under its global cap', async () => {
    temp = tempRoot();
    const mark = path.join(temp.root, 'marks');
    const tasks = ['a', 'b', 'c', 'd', 'e', 'f'].map((id) => ({ id, command: slotProbe(mark, id) }));
    temp.workspace('ws', oneWorkflowCampaign(tasks), 'defaults:\n  max_concurrent_global: 2\n');
    const run = await initializeRun({ root: temp.root, workspace: 'ws', runId: 'defonly' });
    try {
      expect(await runUntilCompletion(run)).toBe('COMPLETED');
      expect(maxConcurrency(mark)).toBeLessThanOrEqual(2);
      expect(fs.readFileSync(path.join(mark, 'concurrency'), 'utf8').trim().split('\n')).toHaveLength(6);
    } finally {
      await verifyAndClose(run);
    }
  });

  it('a gate is approved by a command from another store on the same log while the loop runs', async () => {
    temp = tempRoot();
    temp.workspace(
      'ws',
      oneWorkflowCampaign([
        { id: 'gate', kind: 'gate', message: 'Proceed with the expensive step?' },
        { id: 'expensive', command: 'echo done > out.txt', dependencies: ['gate'] },
      ]),
    );
    const run = await initializeRun({ root: temp.root, workspace: 'ws', runId: 'gated' });
    const other = await openRun({ root: temp.root, runId: 'gated' });
    try {
      const finished = runUntilCompletion(run);
      await vi.waitFor(async () => expect(getRunStatus(await other.store.views(), 'gated')?.tasks[0]?.status).toBe('WAITING_EXTERNAL'), { timeout: 15_000 });
      expect((await sendCommand(other, { type: 'CMD.APPROVE', taskId: 'gate', comment: 'go' })).accepted).toBe(true);
      expect(await finished).toBe('COMPLETED');
      const tasks = getRunStatus(await run.store.views(), 'gated')?.tasks.map((t) => t.status);
      expect(tasks).toEqual(['COMPLETED', 'COMPLETED']);
    } finally {
      await other.close();
      await verifyAndClose(run);
    }
  });

  it('rerun creates a new attempt, keeps the earlier attempt and its directory, and the run completes again', async () => {
    temp = tempRoot();
    temp.workspace('ws', oneWorkflowCampaign([{ id: 'calc', command: 'date +%s%N > stamp.txt' }]));
    const run = await initializeRun({ root: temp.root, workspace: 'ws', runId: 'again' });
    try {
      expect(await runUntilCompletion(run)).toBe('COMPLETED');
      const reply = await sendCommand(run, { type: 'CMD.RERUN', taskId: 'calc', recursive: false });
      expect(reply.accepted).toBe(true);
      expect(await runUntilCompletion(run)).toBe('COMPLETED');
      const attempts = listAttempts(await run.store.views(), 'again', 'calc');
      expect(attempts.map((a) => [a.attemptId, a.status])).toEqual([
        ['calc-a1', 'COMPLETED'],
        ['calc-a2', 'COMPLETED'],
      ]);
      for (const attempt of attempts) expect(fs.existsSync(path.join(attempt.dir!, 'stamp.txt'))).toBe(true);
      expect(attempts[0]!.dir).not.toBe(attempts[1]!.dir);
    } finally {
      await verifyAndClose(run);
    }
  });

  it('an invalid first workflow (a cycle) is refused with an error naming it, and nothing is logged', async () => {
    temp = tempRoot();
    temp.workspace('ws', oneWorkflowCampaign([{ id: 'x', command: 'true', dependencies: ['y'] }, { id: 'y', command: 'true', dependencies: ['x'] }]));
    await expect(initializeRun({ root: temp.root, workspace: 'ws', runId: 'cyc' })).rejects.toMatchObject({ code: 'INVALID_WORKFLOW' });
    await expect(openRun({ root: temp.root, runId: 'cyc' })).rejects.toMatchObject({ code: 'RUN_NOT_FOUND' });
  });
});
