import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { initializeRun, sendCommand } from '../host/run-lifecycle.ts';
import { runUntilCompletion } from '../host/drive-run.ts';
import type { EvidenceBundle } from '../views/build-evidence.ts';
import { exportEvidence } from '../views/export-evidence.ts';
import { listAttempts } from '../projections/queries.ts';

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) fs.rmSync(root, { recursive: true, force: true });
});

function workspace(source: string): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ms-evidence-'));
  roots.push(root);
  fs.mkdirSync(path.join(root, 'lab'), { recursive: true });
  fs.writeFileSync(path.join(root, 'lab', 'campaign.mjs'), source);
  return root;
}

// Two iterations; an allowed failure; results data on the first task.
const CAMPAIGN = `
export function plan(state) {
  if (state === null) return { tasks: [
    { id: 'make', command: 'echo "{\\\\"value\\\\": 21}" > results.json' },
    { id: 'flaky', command: 'echo oops >&2; exit 2', allowFailure: true },
  ] };
  if (state.round === 1) return { tasks: [{ id: 'refine', command: 'true' }] };
  return null;
}
export function analyze(state, results) {
  return { round: (state?.round ?? 0) + 1, value: results.make?.data?.value ?? null };
}
`;

describe('exportEvidence', () => {
  it('writes bundle.json and report.md with every attempt, iteration and command; exporting twice is byte-identical', async () => {
    const root = workspace(CAMPAIGN);
    const run = await initializeRun({ root, workspace: 'lab', runId: 'ev1' });
    try {
      expect(await runUntilCompletion(run)).toBe('COMPLETED');
      const rejected = await sendCommand(run, { type: 'CMD.RESUME', by: 'alice' });
      expect(rejected.accepted).toBe(false);

      const first = await exportEvidence(run);
      expect(first.dir).toBe(path.join(run.runDir, 'evidence'));
      const bundleBytes = fs.readFileSync(first.bundlePath);
      const reportBytes = fs.readFileSync(first.reportPath);
      const second = await exportEvidence(run);
      expect(second.bundlePath).toBe(first.bundlePath);
      expect(fs.readFileSync(second.bundlePath).equals(bundleBytes)).toBe(true);
      expect(fs.readFileSync(second.reportPath).equals(reportBytes)).toBe(true);
      expect(fs.readdirSync(first.dir).sort()).toEqual(['bundle.json', 'report.md']);

      const bundle = JSON.parse(bundleBytes.toString('utf8')) as EvidenceBundle;
      const attempts = listAttempts(await run.store.views(), 'ev1');
      expect(bundle.attempts.map((a) => a.attemptId).sort()).toEqual(attempts.map((a) => a.attemptId).sort());
      expect(bundle.attempts.map((a) => a.attemptId).sort()).toEqual(['flaky-a1', 'make-a1', 'refine-a1']);
      expect(bundle.outcome.status).toBe('COMPLETED');
      expect(bundle.tasks.map((t) => [t.id, t.status])).toEqual([
        ['make', 'COMPLETED'],
        ['flaky', 'FAILED'],
        ['refine', 'COMPLETED'],
      ]);
      const make = bundle.attempts.find((a) => a.attemptId === 'make-a1');
      expect(make?.results?.data).toEqual({ value: 21 });
      expect(make?.endedAt).not.toBeNull();
      expect(bundle.attempts.find((a) => a.attemptId === 'flaky-a1')?.reason).toBeTruthy();
      expect(bundle.campaignStates.map((s) => s.iteration)).toEqual([0, 1, 2]);
      expect(bundle.campaignStates[1]?.state).toEqual({ round: 1, value: 21 });
      expect(bundle.commands).toContainEqual(expect.objectContaining({ verb: 'resume', accepted: false, code: 'RUN_TERMINAL', by: 'alice' }));
      expect(bundle.operatorConfig).toMatchObject({ defaultOperator: 'local.default' });
      expect(bundle.runSettings).toMatchObject({ workspace: 'lab' });
      expect(bundle.log.lastSeq).toBe(await run.store.log.lastSeq('ev1'));
      expect(bundle.log.events).toBe(bundle.log.lastSeq);
      expect(bundle.log.divergence).toBeNull();
      // No export timestamp anywhere; keys sorted at every level.
      expect(bundleBytes.toString('utf8')).not.toMatch(/exported/i);
      expect(Object.keys(bundle)).toEqual([...Object.keys(bundle)].sort());

      const report = reportBytes.toString('utf8');
      expect(report).toContain('# Evidence: run ev1');
      expect(report).toContain('Status: **COMPLETED**');
      for (const id of ['make-a1', 'flaky-a1', 'refine-a1']) expect(report).toContain(`| ${id} |`);
      expect(report).toMatch(/## Failures[\s\S]*flaky/);
      expect(report).toMatch(/## Iterations[\s\S]*\| 1 \|/);
      expect(report).toMatch(/rejected RUN_TERMINAL/);
    } finally {
      await run.close();
    }
  });

  it('a failed run: the report names the failed task with its reason and the skipped dependant', async () => {
    const root = workspace(`
export function plan(state) { return state === null ? { tasks: [
  { id: 'bad', command: 'exit 3' },
  { id: 'after', command: 'true', dependencies: ['bad'] },
] } : null; }
export function analyze() { return {}; }
`);
    const run = await initializeRun({ root, workspace: 'lab', runId: 'ev2' });
    try {
      expect(await runUntilCompletion(run)).toBe('FAILED');
      const { bundle, reportPath } = await exportEvidence(run);
      expect(bundle.outcome.status).toBe('FAILED');
      expect(bundle.outcome.reason).toContain('bad');
      const report = fs.readFileSync(reportPath, 'utf8');
      expect(report).toContain('Status: **FAILED**');
      expect(report).toMatch(/Task \*\*bad\*\* FAILED: .+/);
      expect(report).toMatch(/Task \*\*after\*\* SKIPPED: dependency bad is FAILED/);
    } finally {
      await run.close();
    }
  });
});
