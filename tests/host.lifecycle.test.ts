import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { verifyAndClose } from './harness/verify-and-close.ts';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { getRunStatus, listAttempts } from '../projections/queries.ts';
import { initializeRun, listActiveRuns, openRun, sendCommand } from '../host/run-lifecycle.ts';
import { runUntilCompletion, stepRun } from '../host/drive-run.ts';

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) fs.rmSync(root, { recursive: true, force: true });
});

/** A workspaces root with one workspace whose campaign.mjs is `source`. */
function workspace(source: string, operatorsYaml?: string): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ms-host-'));
  roots.push(root);
  const dir = path.join(root, 'lab');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'campaign.mjs'), source);
  if (operatorsYaml) fs.writeFileSync(path.join(dir, 'operators.yaml'), operatorsYaml);
  return root;
}

const TWO_STEP = `
export function plan(state) {
  if (state === null) return { tasks: [
    { id: 'make', command: 'echo 21 > value.txt && echo "{\\\\"value\\\\": 21}" > results.json' },
    { id: 'double', command: ['node', '-e', 'require("fs").writeFileSync("results.json", JSON.stringify({value: 42}))'], dependencies: ['make'] },
  ] };
  return null;
}
export function analyze(state, results) {
  return { make: results.make.data, double: results.double.data, statuses: [results.make.status, results.double.status] };
}
`;

describe('run lifecycle on the embedded log', () => {
  it('runs a two-task campaign from init to COMPLETED with real processes, and the projections show it', async () => {
    const root = workspace(TWO_STEP);
    const run = await initializeRun({ root, workspace: 'lab', runId: 'r1' });
    try {
      expect(await runUntilCompletion(run)).toBe('COMPLETED');
      const views = await run.store.views();
      const status = getRunStatus(views, 'r1');
      expect(status?.status).toBe('COMPLETED');
      expect(status?.tasks.map((t) => [t.id, t.status])).toEqual([
        ['make', 'COMPLETED'],
        ['double', 'COMPLETED'],
      ]);
      const attempts = listAttempts(views, 'r1', 'make');
      expect(attempts).toHaveLength(1);
      expect(fs.readFileSync(path.join(attempts[0]!.dir!, 'value.txt'), 'utf8').trim()).toBe('21');
    } finally {
      await verifyAndClose(run);
    }
  });

  it('stepRun advances one cycle at a time and a terminal run stays terminal', async () => {
    const root = workspace(TWO_STEP);
    const run = await initializeRun({ root, workspace: 'lab', runId: 'r2' });
    try {
      expect(await stepRun(run)).toBe('RUNNING');
      await vi.waitFor(async () => expect(await stepRun(run)).toBe('COMPLETED'), { timeout: 5000, interval: 100 });
      expect(await stepRun(run)).toBe('COMPLETED');
      expect(await listActiveRuns({ root })).toEqual([]);
    } finally {
      await verifyAndClose(run);
    }
  });

  it('a failing task fails the run and its dependant is SKIPPED, not left pending', async () => {
    const root = workspace(`
export function plan(state) { return state === null ? { tasks: [
  { id: 'bad', command: 'exit 3' },
  { id: 'after', command: 'true', dependencies: ['bad'] },
] } : null; }
export function analyze() { return {}; }
`);
    const run = await initializeRun({ root, workspace: 'lab', runId: 'r3' });
    try {
      expect(await runUntilCompletion(run)).toBe('FAILED');
      const status = getRunStatus(await run.store.views(), 'r3');
      expect(status?.tasks.map((t) => [t.id, t.status])).toEqual([
        ['bad', 'FAILED'],
        ['after', 'SKIPPED'],
      ]);
    } finally {
      await verifyAndClose(run);
    }
  });

  it('pause is accepted once, a second pause is rejected with a code, and nothing is dispatched while paused', async () => {
    const root = workspace(`
export function plan(state) { return state === null ? { tasks: [{ id: 't', command: 'true' }] } : null; }
export function analyze() { return {}; }
`);
    const run = await initializeRun({ root, workspace: 'lab', runId: 'r4' });
    try {
      await stepRun(run);
      const first = await sendCommand(run, { type: 'CMD.PAUSE' });
      expect(first.accepted).toBe(true);
      const second = await sendCommand(run, { type: 'CMD.PAUSE' });
      expect(second).toMatchObject({ accepted: false, code: 'ALREADY_PAUSED' });
      expect((await sendCommand(run, { type: 'CMD.RESUME' })).accepted).toBe(true);
      expect(await runUntilCompletion(run)).toBe('COMPLETED');
      const reopened = await openRun({ store: run.store, runId: 'r4' });
      expect(reopened.workspace).toBe('lab');
    } finally {
      await verifyAndClose(run);
    }
  });
});
