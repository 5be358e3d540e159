import fs from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './harness/cli.ts';
import { tempRoot } from './harness/workspace.ts';

// A gate decision recorded before `principal` existed holds the issuer as text in `by` ("alice (as me)").
// Such a log still verifies, reads and replays as it did, and analyze receives what the record says.
const temp = tempRoot('ms-gate-compat-');
afterAll(() => temp.cleanup());
const cli = (args: string[]) => runCli(args, { root: temp.root });
const ME = userInfo().username;

interface Row {
  position: number;
  payload: string;
  changes: string;
}

/** Rewrites the run's ATTEMPT.APPROVE record into the shape logs had before `principal`: both in `by`, as text. */
function toOldShape(runId: string): void {
  const db = new Database(path.join(temp.root, '.matterstack', 'events.sqlite'));
  try {
    const row = db.prepare("SELECT position, payload, changes FROM events WHERE run_id = ? AND type = 'ATTEMPT.APPROVE'").get(runId) as Row;
    const old = (value: Record<string, unknown>): Record<string, unknown> => {
      const { principal, ...rest } = value;
      expect(principal).toBe(ME);
      return { ...rest, by: `${String(value.by)} (as ${ME})` };
    };
    const changes = (JSON.parse(row.changes) as Record<string, unknown>[]).map((c) => (c.kind === 'attempt.decision' ? old(c) : c));
    db.prepare('UPDATE events SET payload = ?, changes = ? WHERE position = ?').run(JSON.stringify(old(JSON.parse(row.payload) as Record<string, unknown>)), JSON.stringify(changes), row.position);
  } finally {
    db.close();
  }
  // Projections are a fold of the log: the next command refolds them from the rewritten record.
  fs.rmSync(path.join(temp.root, '.matterstack', 'projections.sqlite'), { force: true });
}

describe('gate decisions recorded before principal', { timeout: 180_000 }, () => {
  it('verify, replay, attempts and explain read them as before; analyze receives the text', async () => {
    temp.workspace(
      'lab',
      `
export function plan(state) { return state === null ? { tasks: [{ id: 'gate', kind: 'gate' }] } : null; }
export function analyze(state, results) { return { received: results.gate }; }
`,
    );
    expect((await cli(['init', 'lab', '--run-id', 'old1'])).code).toBe(0);
    expect((await cli(['step', 'old1'])).code).toBe(0);
    expect((await cli(['approve', 'old1', 'gate', '--by', 'alice', '--comment', 'ok'])).code).toBe(0);
    toOldShape('old1');

    const verify = await cli(['replay', 'old1', '--verify']);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect((await cli(['replay', 'old1'])).stdout).toContain(`attempt gate-a1 approved by alice (as ${ME}), comment "ok"`);
    const [attempt] = (await cli(['attempts', 'old1', 'gate', '--json'])).json<{ decision: unknown }[]>();
    expect(attempt?.decision).toEqual({ verb: 'approved', by: `alice (as ${ME})`, comment: 'ok' });
    expect((await cli(['attempts', 'old1', 'gate'])).stdout).toContain(`gate-a1  approved by alice (as ${ME}); comment: ok`);
    expect((await cli(['explain', 'old1'])).stdout).toContain(`gate (gate-a1): approved by alice (as ${ME}) — comment: ok`);

    expect((await cli(['loop', 'old1'])).code).toBe(0);
    const state = JSON.parse((await cli(['status', 'old1', '--state'])).stdout) as { received: unknown };
    expect(state.received).toEqual({ status: 'COMPLETED', files: {}, decision: { verb: 'approved', by: `alice (as ${ME})`, comment: 'ok' } });
    expect((await cli(['replay', 'old1', '--verify'])).code).toBe(0);
  });
});
