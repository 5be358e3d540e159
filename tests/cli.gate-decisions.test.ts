import os from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { initializeRun, openRun } from '../host/run-lifecycle.ts';
import { stepRun } from '../host/drive-run.ts';
import { getRunStatus } from '../projections/queries.ts';
import { runCli } from './harness/cli.ts';
import { verifyAndClose } from './harness/verify-and-close.ts';
import { oneWorkflowCampaign, tempRoot } from './harness/workspace.ts';

// A gate takes exactly one decision, also when no host runs: the CLI appends the command to the
// embedded log itself, and the gate's attempt is only collected by the next `loop`/`step`.
const temp = tempRoot('ms-cli-gate-');
afterAll(() => temp.cleanup());
temp.workspace(
  'lab',
  oneWorkflowCampaign([
    { id: 'gate', kind: 'gate', message: 'go?' },
    { id: 'work', command: 'true', dependencies: ['gate'] },
  ]),
);
const cli = (args: string[]) => runCli(args, { root: temp.root });
// The embedded path records the OS account as the principal beside the claimed --by.
const as = `(as ${os.userInfo().username})`;

/** Run `runId` waits at its gate: created and stepped in-process (init and step have CLI tests of their own). */
async function atGate(runId: string): Promise<void> {
  const run = await initializeRun({ root: temp.root, workspace: 'lab', runId });
  try {
    expect(await stepRun(run)).toBe('RUNNING');
    expect(getRunStatus(await run.store.views(), runId)?.tasks.find((t) => t.id === 'gate')?.status).toBe('WAITING_EXTERNAL');
  } finally {
    await run.close();
  }
}

const SCENARIOS = [
  { run: 'ar', first: 'approve', second: 'reject', decided: 'approved', gate: 'COMPLETED', exit: 0 },
  { run: 'aa', first: 'approve', second: 'approve', decided: 'approved', gate: 'COMPLETED', exit: 0 },
  { run: 'ra', first: 'reject', second: 'approve', decided: 'rejected', gate: 'FAILED', exit: 10 },
] as const;

describe.concurrent('approve / reject with no host running (embedded log)', () => {
  it.each(SCENARIOS)('$first then $second: the second is GATE_ALREADY_DECIDED, the run follows the first, the log agrees', async (s) => {
    await atGate(s.run);
    const first = await cli([s.first, s.run, 'gate', '--by', 'alice']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^accepted \(seq \d+\)\n$/);

    const second = await cli([s.second, s.run, 'gate', '--by', 'bob']);
    expect(second.code).toBe(4);
    expect(second.stdout).toBe('');
    expect(second.stderr).toBe(`error: ${s.second} rejected for run ${s.run}: gate gate was already ${s.decided} by alice ${as} (attempt gate-a1) [GATE_ALREADY_DECIDED]\n`);
    expect((await cli(['loop', s.run])).code).toBe(s.exit);
    const timeline = (await cli(['replay', s.run, '--json'])).json<{ actor: string; type: string; changes: string[] }[]>();
    const commands = timeline.filter((e) => e.type.startsWith('CMD.')).map((e) => e.changes);
    const refusal = `command ${s.second} gate by bob ${as} rejected GATE_ALREADY_DECIDED: gate gate was already ${s.decided} by alice ${as} (attempt gate-a1)`;
    expect(commands).toEqual([[`command ${s.first} gate by alice ${as} accepted`], [refusal]]);
    // Only the first decision reached the gate's attempt.
    const decisions = timeline.filter((e) => e.actor === 'gate-a1' && (e.type === 'ATTEMPT.APPROVE' || e.type === 'ATTEMPT.REJECT'));
    expect(decisions.map((d) => d.type)).toEqual([s.first === 'approve' ? 'ATTEMPT.APPROVE' : 'ATTEMPT.REJECT']);
    const run = await openRun({ root: temp.root, runId: s.run });
    try {
      expect(getRunStatus(await run.store.views(), s.run)?.tasks.find((t) => t.id === 'gate')?.status).toBe(s.gate);
    } finally {
      await verifyAndClose(run);
    }
  });
});

describe('approve and reject at once (two processes, embedded log)', () => {
  it('exactly one is accepted, the other is GATE_ALREADY_DECIDED (a writer that lost the append race decides again)', async () => {
    await atGate('both');
    const [approve, reject] = await Promise.all([cli(['approve', 'both', 'gate', '--by', 'alice']), cli(['reject', 'both', 'gate', '--by', 'bob'])]);
    const outcomes = [approve, reject].map((r) => r.code);
    expect(outcomes.sort()).toEqual([0, 4]);
    const [winner, loser] = approve.code === 0 ? ([`approved by alice ${as}`, reject] as const) : ([`rejected by bob ${as}`, approve] as const);
    expect(loser.stderr).toContain(`gate gate was already ${winner} (attempt gate-a1) [GATE_ALREADY_DECIDED]`);
  });
});
