import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { initializeRun, sendCommand } from '../host/run-lifecycle.ts';
import { runUntilCompletion, stepRun } from '../host/drive-run.ts';
import { explainRun } from '../views/explain-run.ts';
import type { TaskExplanation } from '../views/explanation.ts';
import { formatExplanation } from '../views/format-explanation.ts';

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) fs.rmSync(root, { recursive: true, force: true });
});

/** A workspaces root with one workspace `lab` whose campaign.mjs is `source`. */
function workspace(source: string): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ms-explain-'));
  roots.push(root);
  fs.mkdirSync(path.join(root, 'lab'), { recursive: true });
  fs.writeFileSync(path.join(root, 'lab', 'campaign.mjs'), source);
  return root;
}

const byId = (tasks: TaskExplanation[], id: string): TaskExplanation => {
  const task = tasks.find((t) => t.id === id);
  if (task === undefined) throw new Error(`no explanation for ${id}`);
  return task;
};

describe('explainRun', () => {
  it('explains a gate waiting for a human, a running local task, a ready task without a slot, a blocked task, and a pause', async () => {
    const root = workspace(`
export function plan(state) { return state === null ? { tasks: [
  { id: 'gate', kind: 'gate', message: 'Approve the candidates?' },
  { id: 'a', command: 'sleep 2' },
  { id: 'b', command: 'sleep 2' },
  { id: 'c', command: 'true', dependencies: ['a'] },
] } : null; }
export function analyze() { return {}; }
`);
    const run = await initializeRun({ root, workspace: 'lab', runId: 'x1', maxConcurrent: 2 });
    try {
      expect(await stepRun(run)).toBe('RUNNING');
      const e = await explainRun(run);
      expect(e).toMatchObject({ runId: 'x1', status: 'RUNNING', iteration: 0, slots: { used: 2, max: 2 } });
      expect(e.tasks.map((t) => t.id)).toEqual(['gate', 'a', 'b', 'c']);

      const gate = byId(e.tasks, 'gate').why;
      expect(gate.kind).toBe('waiting-operator');
      if (gate.kind !== 'waiting-operator') throw new Error('unreachable');
      expect(gate.attemptId).toBe('gate-a1');
      expect(gate.hint).toMatchObject({ kind: 'human', approveCommand: 'matterstack approve x1 gate', message: 'Approve the candidates?' });
      if (gate.hint.kind !== 'human') throw new Error('unreachable');
      expect(gate.hint.files).toEqual(['approved.txt', 'response.json']);
      expect(fs.existsSync(gate.hint.dir)).toBe(true);

      const a = byId(e.tasks, 'a').why;
      expect(a).toMatchObject({ kind: 'waiting-operator', operatorKey: 'local.default', hint: { kind: 'local' } });
      if (a.kind !== 'waiting-operator' || a.hint.kind !== 'local') throw new Error('unreachable');
      expect(a.hint.pid).toBeGreaterThan(0);
      expect(a.hint.stdout.endsWith(path.join('a-a1', 'stdout.log'))).toBe(true);
      expect(a.since).not.toBeNull();

      expect(byId(e.tasks, 'b').why).toEqual({ kind: 'no-slot', operatorKey: 'local.default', cap: { scope: 'global', used: 2, max: 2 } });
      expect(byId(e.tasks, 'c').why).toEqual({ kind: 'blocked', waitingOn: [{ id: 'a', status: 'RUNNING' }] });

      const text = formatExplanation(e);
      expect(text).toContain('Run x1 (lab): RUNNING');
      expect(text).toContain('ready but no slot: global maxConcurrent 2/2');
      expect(text).toContain('blocked by a (RUNNING)');
      expect(text).toContain('matterstack approve x1 gate');
      expect(text).toContain(`or drop approved.txt or response.json in ${gate.hint.dir}`);
      expect(text).toContain('pid: ');
      expect(e.nextSteps.some((s) => s.includes('matterstack approve x1 gate'))).toBe(true);

      expect((await sendCommand(run, { type: 'CMD.PAUSE' })).accepted).toBe(true);
      const paused = await explainRun(run);
      expect(paused.status).toBe('PAUSED');
      expect(paused.nextSteps[0]).toBe('resume with `matterstack resume x1`');
      expect(formatExplanation(paused)).toContain('resume with `matterstack resume x1`');
    } finally {
      await run.close();
    }
  });

  it('a gate decided while no host runs: explain names the decision and asks to drive the run, not to approve', async () => {
    const root = workspace(`
export function plan(state) { return state === null ? { tasks: [{ id: 'gate', kind: 'gate', message: 'go?' }] } : null; }
export function analyze() { return {}; }
`);
    const run = await initializeRun({ root, workspace: 'lab', runId: 'x5' });
    try {
      await stepRun(run);
      expect(await sendCommand(run, { type: 'CMD.REJECT', taskId: 'gate', by: 'alice' })).toMatchObject({ accepted: true });
      const e = await explainRun(run);
      const gate = byId(e.tasks, 'gate');
      expect(gate.status).toBe('WAITING_EXTERNAL'); // not collected yet
      // sendCommand records the OS account as the principal; alice is the claim.
      const decided = `rejected by alice (as ${os.userInfo().username})`;
      expect(gate.why).toMatchObject({ kind: 'waiting-operator', hint: { kind: 'human', decided } });
      expect(formatExplanation(e)).toContain(`decided: ${decided} (the host driving the run acts on it)`);
      expect(e.nextSteps.some((s) => s.includes('matterstack approve'))).toBe(false);
      expect(e.nextSteps).toContain('keep it going with `matterstack loop x5` (or one cycle: `matterstack step x5`)');
    } finally {
      await run.close();
    }
  });

  it('explains a failed task with its reason and rerun command, its dependant SKIPPED because of it, and revive/rerun next steps', async () => {
    const root = workspace(`
export function plan(state) { return state === null ? { tasks: [
  { id: 'ok', command: 'true' },
  { id: 'bad', command: 'exit 3' },
  { id: 'after', command: 'true', dependencies: ['bad'] },
] } : null; }
export function analyze() { return {}; }
`);
    const run = await initializeRun({ root, workspace: 'lab', runId: 'x2' });
    try {
      expect(await runUntilCompletion(run)).toBe('FAILED');
      const e = await explainRun(run);
      expect(e.status).toBe('FAILED');
      expect(e.reason).toContain('bad');
      expect(e.tasks.map((t) => t.id)).toEqual(['bad', 'after']);
      const bad = byId(e.tasks, 'bad').why;
      expect(bad).toMatchObject({ kind: 'failed', attemptId: 'bad-a1', allowed: false, rerunCommand: 'matterstack rerun x2 bad' });
      if (bad.kind !== 'failed') throw new Error('unreachable');
      expect(bad.reason).toMatch(/3/);
      expect(byId(e.tasks, 'after').why).toMatchObject({ kind: 'skipped', dependency: 'bad', dependencyStatus: 'FAILED' });
      expect(e.nextSteps.join('\n')).toContain('matterstack rerun x2 bad');
      expect(e.nextSteps.join('\n')).toContain('matterstack revive x2');
      const text = formatExplanation(e);
      expect(text).toContain('skipped because dependency bad is FAILED');
      expect(text).toContain('rerun: matterstack rerun x2 bad');
    } finally {
      await run.close();
    }
  });

  it('a completed run has nothing left and suggests exporting the evidence', async () => {
    const root = workspace(`
export function plan(state) { return state === null ? { tasks: [{ id: 't', command: 'true' }] } : null; }
export function analyze() { return {}; }
`);
    const run = await initializeRun({ root, workspace: 'lab', runId: 'x3' });
    try {
      expect(await runUntilCompletion(run)).toBe('COMPLETED');
      const e = await explainRun(run);
      expect(e.tasks).toEqual([]);
      expect(e.nextSteps).toEqual(['export the evidence with `matterstack export-evidence x3`']);
      expect(formatExplanation(e)).toContain('Every task is done.');
    } finally {
      await run.close();
    }
  });
});
