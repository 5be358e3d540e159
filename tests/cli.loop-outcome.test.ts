import { afterAll, describe, expect, it, vi } from 'vitest';
import { runCli, startCli } from './harness/cli.ts';
import { oneWorkflowCampaign, tempRoot, type TempRoot } from './harness/workspace.ts';

const roots: TempRoot[] = [];
afterAll(() => roots.forEach((r) => r.cleanup()));

const GATED = oneWorkflowCampaign([
  { id: 'gate', kind: 'gate', message: 'Go on?' },
  { id: 'after', command: 'true', dependencies: ['gate'] },
]);

describe('loop without a run id reports how each run really ended (real processes, embedded log)', () => {
  it('a run another process drove to FAILED meanwhile is reported FAILED, exit 10', async () => {
    const temp = tempRoot('ms-loop-');
    roots.push(temp);
    temp.workspace('lab', GATED);
    const { root } = temp;
    await runCli(['init', 'lab', '--run-id', 'elsewhere'], { root });
    const all = startCli(['loop', '--json'], { root });
    await vi.waitFor(async () => expect((await runCli(['status', 'elsewhere', '--json'], { root })).json<{ gates: unknown[] }>().gates).not.toEqual([]), { timeout: 30_000 });
    // Freeze the round-robin loop while another process ends the run, so the loop cannot step it itself.
    all.child.kill('SIGSTOP');
    try {
      expect((await runCli(['reject', 'elsewhere', 'gate'], { root })).code).toBe(0);
      expect((await runCli(['loop', 'elsewhere'], { root })).code).toBe(10);
    } finally {
      all.child.kill('SIGCONT');
    }
    const finished = await all.done;
    const end = JSON.parse(finished.stdout.trim().split('\n').at(-1)!) as unknown;
    expect(end).toEqual({ event: 'end', runs: [{ runId: 'elsewhere', status: 'FAILED' }], exitCode: 10 });
    expect(finished.code).toBe(10);
  });
});
