import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteEventLog } from '../storage/sqlite-event-log.ts';
import { verifyReplay } from '../views/replay-run.ts';
import { runCli } from './harness/cli.ts';
import { copyGoldenWorkspaces, GOLDEN_DIR, readGoldenFile, readManifest, restoreRecords, type GoldenRecord } from './harness/golden-log.ts';

// The golden logs (tests/fixtures/golden/, written by an earlier release through the real CLI:
// tests/fixtures/generate-golden.ts) must still restore and verify against the current machines.
// A rule change that makes them diverge fails here unless it ships an upcaster for the older
// records or a new logic version that keeps their behaviour (docs/event-evolution.md).
const manifest = readManifest();
const goldenRecords = new Map<string, GoldenRecord[]>(manifest.map((run) => [run.runId, readGoldenFile(path.join(GOLDEN_DIR, run.file))]));
let tmp: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ms-golden-test-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('golden logs', () => {
  it('cover the four demos and a campaign of a few thousand records with retries, gates, commands, reruns, cancels and revives', () => {
    expect(manifest.map((run) => run.workspace).sort()).toEqual(['demos/battery_screening', 'demos/catalyst_human_in_loop', 'demos/coatings_active_learning', 'demos/thin_film_lab', 'golden_campaign']);
    const campaign = goldenRecords.get('golden_campaign') ?? [];
    expect(campaign.length).toBeGreaterThan(2000);
    const types = new Set(campaign.map((r) => r.type));
    for (const type of ['CMD.PAUSE', 'CMD.RESUME', 'CMD.APPROVE', 'CMD.REJECT', 'CMD.RERUN', 'CMD.CANCEL_ATTEMPT', 'CMD.CANCEL', 'CMD.REVIVE', 'ATTEMPT.CANCELLED']) expect(types).toContain(type);
    expect(campaign.some((r) => r.actor === 'flaky-a2')).toBe(true);
    for (const run of manifest) expect(goldenRecords.get(run.runId)).toHaveLength(run.records);
  });

  it.each(manifest.map((run) => [run.runId, run] as const))('%s: restored into a fresh embedded log, every record verifies against the current machines', async (runId, run) => {
    const file = path.join(tmp, `${runId}.sqlite`);
    await restoreRecords(file, goldenRecords.get(runId) ?? []);
    const log = SqliteEventLog.open(file);
    try {
      expect(await verifyReplay(log, runId)).toEqual({ ok: true, events: run.records, lastSeq: run.records });
    } finally {
      await log.close();
    }
  });

  it('restored into a workspaces root, every run passes `replay --verify`, shows its outcome in `status` and `explain`, and `step` hosts it without a divergent record', async () => {
    const root = path.join(tmp, 'root');
    copyGoldenWorkspaces(root);
    const logFile = path.join(root, '.matterstack', 'events.sqlite');
    for (const run of manifest) await restoreRecords(logFile, goldenRecords.get(run.runId) ?? []);
    const cli = (...args: string[]) => runCli(args, { root });
    await Promise.all(
      manifest.map(async (run) => {
        const verify = await cli('replay', run.runId, '--verify', '--json');
        expect(verify.code, verify.stdout + verify.stderr).toBe(0);
        expect(verify.json()).toEqual({ ok: true, events: run.records, lastSeq: run.records });
        const status = await cli('status', run.runId, '--json');
        expect(status.code, status.stderr).toBe(0);
        expect(status.json<{ status: string; lastSeq: number }>()).toMatchObject({ status: run.status, lastSeq: run.records });
        const explain = await cli('explain', run.runId);
        expect(explain.code, explain.stderr).toBe(0);
        expect(explain.stdout).toContain(`${run.runId} (${run.workspace}): ${run.status}`);
        // Hosting a run restores it from the log; a terminal run has nothing to do. Whatever the
        // host appends (nothing today) must leave the golden records as they were, and verify too.
        const step = await cli('step', run.runId, '--json');
        expect(step.code, step.stderr).toBe(0);
        expect(step.json<{ status: string }>().status).toBe(run.status);
      }),
    );
    const log = SqliteEventLog.open(logFile);
    try {
      for (const run of manifest) {
        const kept: unknown[] = [];
        for await (const record of log.readRun(run.runId)) if (record.seq <= run.records) kept.push({ seq: record.seq, eventId: record.eventId, to: record.to, changes: record.changes });
        expect(kept).toEqual((goldenRecords.get(run.runId) ?? []).map((r) => ({ seq: r.seq, eventId: r.eventId, to: r.to, changes: r.changes })));
        expect((await verifyReplay(log, run.runId)).ok).toBe(true);
      }
    } finally {
      await log.close();
    }
  }, 600_000);
});
