import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SqliteEventLog } from '../storage/sqlite-event-log.ts';
import { verifyReplay } from '../views/replay-run.ts';
import { GOLDEN_DIR, readGoldenFile, readManifest, restoreRecords, type GoldenRecord } from './harness/golden-log.ts';

// Proof that the golden logs guard the rules: the retry rule is changed on purpose (a failed
// attempt is never retried automatically), as a careless edit of machines/rules/retry.ts would.
vi.mock('../machines/rules/retry.ts', async (importOriginal) => {
  const original = await importOriginal<typeof import('../machines/rules/retry.ts')>();
  return { ...original, shouldRetry: () => false };
});

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ms-golden-rule-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function verifyGolden(runId: string): Promise<{ records: GoldenRecord[]; result: Awaited<ReturnType<typeof verifyReplay>> }> {
  const run = readManifest().find((r) => r.runId === runId);
  if (run === undefined) throw new Error(`no golden run ${runId}`);
  const records = readGoldenFile(path.join(GOLDEN_DIR, run.file));
  const file = path.join(tmp, `${runId}.sqlite`);
  await restoreRecords(file, records);
  const log = SqliteEventLog.open(file);
  try {
    return { records, result: await verifyReplay(log, runId) };
  } finally {
    await log.close();
  }
}

describe('a deliberately changed rule (no automatic retry)', () => {
  it('makes the golden campaign diverge exactly at the run record of the first failed attempt that was retried, naming its seq, actor and type', async () => {
    const { records, result } = await verifyGolden('golden_campaign');
    // The first record whose outcome the old rule decided: the run learning that flaky-a1 FAILED and scheduling a retry.
    const retried = records.find((r) => r.actor === 'run' && r.type === 'ATTEMPT.REPORTED' && (r.payload as { attemptId?: string; status?: string }).attemptId === 'flaky-a1' && (r.payload as { status?: string }).status === 'FAILED');
    expect(retried).toBeDefined();
    expect(JSON.stringify(retried?.changes)).toContain('retry 1 of 2 after attempt flaky-a1 failed');
    expect(result).toMatchObject({ ok: false, seq: retried?.seq, actor: 'run', type: 'ATTEMPT.REPORTED' });
    if (result.ok) return;
    expect(result.message).toMatch(new RegExp(`^seq ${retried?.seq} \\(run ATTEMPT\\.REPORTED\\): the logged changes differs? from what the current machines compute$`));
    expect(result.expected.changes).toEqual(retried?.changes);
    expect(result.actual?.changes).toEqual([{ kind: 'task.status', taskId: 'flaky', status: 'FAILED', reason: 'exit code 3' }]);
  });

  it('leaves the golden demo logs, which never retried, verifying', async () => {
    for (const runId of ['golden_battery', 'golden_catalyst']) expect((await verifyGolden(runId)).result.ok).toBe(true);
  });
});
