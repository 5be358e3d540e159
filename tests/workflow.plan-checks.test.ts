import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { initializeRun, openRun, RunStore, runUntilCompletion, sendCommand } from '../index.ts';
import { oneWorkflowCampaign, tempRoot, type TempRoot } from './harness/workspace.ts';

// What can be checked when a workflow is planned is checked then, before any of its tasks runs:
// a bad first plan leaves the log empty, a bad later plan fails the run before its tasks start.

let temp: TempRoot;
beforeEach(() => {
  temp = tempRoot();
  delete process.env.MATTERSTACK_OPERATOR;
});
afterEach(() => temp.cleanup());

/** initializeRun's failure for a workspace whose campaign plans `tasks`; the log must stay empty. */
async function refusedFirstPlan(tasks: unknown[], operatorsYaml?: string): Promise<{ code: string; message: string }> {
  temp.workspace('ws', oneWorkflowCampaign(tasks), operatorsYaml);
  const error = await initializeRun({ root: temp.root, workspace: 'ws', runId: 'r1' }).then(() => undefined, (e: unknown) => e);
  await expect(openRun({ root: temp.root, runId: 'r1' })).rejects.toMatchObject({ code: 'RUN_NOT_FOUND' });
  return error as { code: string; message: string };
}

describe('a workflow is checked when it is planned', () => {
  it('refuses a compute task without a command, naming task and field', async () => {
    const error = await refusedFirstPlan([{ id: 'nocmd' }]);
    expect(error).toMatchObject({ code: 'INVALID_WORKFLOW' });
    expect(error.message).toMatch(/task nocmd, field command: a compute task needs a command.*local\.default/);
  });

  it('refuses an operatorKey that no operator serves, listing the configured ones', async () => {
    const error = await refusedFirstPlan([{ id: 'far', command: 'true', operatorKey: 'hpc.nowhere' }]);
    expect(error).toMatchObject({ code: 'INVALID_WORKFLOW' });
    expect(error.message).toMatch(/task far, field operatorKey: no operator configured for key "hpc\.nowhere"; configured operators: .*local\.default/);
    const malformed = await refusedFirstPlan([{ id: 'far', command: 'true', operatorKey: 'no key' }]);
    expect(malformed.message).toMatch(/task far, field operatorKey: operator key "no key" contains whitespace/);
  });

  it('refuses files entries that are neither content nor { source } and unknown resource fields, saying what is expected', async () => {
    const files = await refusedFirstPlan([{ id: 'f', command: 'true', files: { 'in.txt': 42 } }]);
    expect(files.message).toMatch(/task f, field files\.in\.txt: must be a string \(the file's content\) or \{ source: /);
    const resources = await refusedFirstPlan([{ id: 'r', command: 'true', resources: { cores: 2 } }]);
    expect(resources.message).toMatch(/task r, field resources: unknown field\(s\) resources \(resources are the task fields cores, memoryGb, gpus, timeLimitMinutes\)/);
  });

  it('accepts a compute task without a command bound for an operator that runs none', async () => {
    temp.workspace('ws', oneWorkflowCampaign([{ id: 'manual', operatorKey: 'human.default', message: 'do it by hand' }, { id: 'dry' }]), 'defaults:\n  default_operator: sim.dry\noperators:\n  sim.dry: { kind: sim }\n');
    const run = await initializeRun({ root: temp.root, workspace: 'ws' });
    await run.close();
  });

  it('a bad later plan fails the run before its tasks run; fixing the campaign and reviving completes it', async () => {
    const campaignFile = (second: string): string => `
export function plan(state) {
  if (state === null) return { tasks: [{ id: 'first', command: 'true' }] };
  return state.round === 1 ? { tasks: [${second}] } : null;
}
export function analyze(state, results) { return { round: (state?.round ?? 0) + 1 }; }`;
    const dir = temp.workspace('ws', '');
    fs.writeFileSync(path.join(dir, 'campaign.mjs'), campaignFile(`{ id: 'second', command: 'true', operatorKey: 'hpc.nowhere' }`));
    const run = await initializeRun({ root: temp.root, workspace: 'ws', runId: 'later' });
    expect(await runUntilCompletion(run)).toBe('FAILED');
    const views = await run.store.views();
    expect(views.prepare('SELECT status_reason FROM runs WHERE run_id = ?').pluck().get('later')).toMatch(/INVALID_WORKFLOW: .*task second, field operatorKey/);
    expect(views.prepare('SELECT task_id FROM tasks WHERE run_id = ?').pluck().all('later')).toEqual(['first']);

    fs.writeFileSync(path.join(dir, 'campaign.mjs'), campaignFile(`{ id: 'second', command: 'true' }`));
    expect(await sendCommand(run, { type: 'CMD.REVIVE' })).toMatchObject({ accepted: true });
    expect(await runUntilCompletion(run)).toBe('COMPLETED');
    await run.close();
    const store = await RunStore.open({ root: temp.root });
    expect((await store.views()).prepare('SELECT task_id FROM tasks WHERE run_id = ? ORDER BY task_id').pluck().all('later')).toEqual(['first', 'second']);
    await store.close();
  });
});
