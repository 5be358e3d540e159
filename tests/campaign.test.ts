import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadCampaign } from '../campaign/load-campaign.ts';
import { validateWorkflow } from '../campaign/validate-workflow.ts';
import { isMatterStackError, type MatterStackError } from '../events/errors.ts';

function workflowError(input: unknown, existingTaskIds: string[] = []): MatterStackError {
  try {
    validateWorkflow(input, { existingTaskIds, source: 'demo' });
  } catch (error) {
    if (isMatterStackError(error, 'INVALID_WORKFLOW')) return error;
    throw error;
  }
  throw new Error('expected INVALID_WORKFLOW');
}

const t = (id: string, dependencies: string[] = []) => ({ id, command: 'true', dependencies });

describe('validateWorkflow', () => {
  it('accepts a DAG and fills defaults', () => {
    const wf = validateWorkflow({ tasks: [t('a'), t('b', ['a']), { id: 'g', kind: 'gate', message: 'ok?', dependencies: ['b'] }] });
    expect(wf.tasks.map((x) => x.id)).toEqual(['a', 'b', 'g']);
    expect(wf.tasks[0]).toMatchObject({ kind: 'compute', allowFailure: false, dependencies: [] });
  });

  it('reports duplicate ids, in the workflow and against earlier workflows', () => {
    expect(workflowError({ tasks: [t('a'), t('a')] })).toMatchObject({ details: { taskId: 'a', field: 'id' } });
    const cross = workflowError({ tasks: [t('new'), t('old')] }, ['old']);
    expect(cross.details).toMatchObject({ taskId: 'old', field: 'id' });
    expect(cross.message).toMatch(/earlier workflow/);
  });

  it('names the ids when every task already exists', () => {
    const error = workflowError({ tasks: [t('a'), t('b')] }, ['a', 'b']);
    expect(error.message).toMatch(/already exists.*a, b/);
    expect(error.details).toMatchObject({ taskIds: ['a', 'b'] });
  });

  it('reports unknown dependencies, accepts dependencies on earlier workflows', () => {
    const error = workflowError({ tasks: [t('a', ['ghost'])] });
    expect(error.details).toMatchObject({ taskId: 'a', field: 'dependencies', dependency: 'ghost' });
    expect(error.message).toMatch(/ghost/);
    expect(validateWorkflow({ tasks: [t('b', ['a'])] }, { existingTaskIds: ['a'] }).tasks).toHaveLength(1);
  });

  it('names the cycle', () => {
    const error = workflowError({ tasks: [t('a', ['c']), t('b', ['a']), t('c', ['b']), t('d')] });
    expect(error.message).toMatch(/cycle: (a -> c -> b -> a|b -> a -> c -> b|c -> b -> a -> c)/);
    expect(workflowError({ tasks: [t('self', ['self'])] }).message).toMatch(/self -> self/);
  });

  it('reports schema errors naming the task and field; refuses unsafe ids and paths', () => {
    expect(workflowError({ tasks: [{ id: 'x', command: 'true', cores: -1 }] }).details).toMatchObject({ taskId: 'x', field: 'cores' });
    expect(workflowError({ tasks: [{ id: 'x', command: 'true', bogus: 1 }] }).message).toMatch(/task x.*bogus/);
    expect(workflowError({ tasks: [{ id: '../etc', command: 'true' }] }).details).toMatchObject({ taskId: '../etc', field: 'id' });
    expect(workflowError({ tasks: [{ id: 'a b', command: 'true' }] }).details).toMatchObject({ field: 'id' });
    expect(workflowError({ tasks: [{ command: 'true' }] }).details).toMatchObject({ taskId: '#0', field: 'id' });
    expect(workflowError({ tasks: [{ id: 'x', files: { '../up': 'x' } }] }).details).toMatchObject({ taskId: 'x', field: 'files' });
    expect(workflowError({ tasks: [{ id: 'x', files: { f: { source: '/etc/passwd' } } }] }).details).toMatchObject({ field: 'files' });
    expect(workflowError({ tasks: [{ id: 'x', downloadPatterns: { include: ['../**'] } }] }).details).toMatchObject({ field: 'downloadPatterns' });
    expect(workflowError(null).message).toMatch(/workflow/);
  });

  /** Random DAG: task i may depend only on tasks with a smaller index. */
  const dag = fc.integer({ min: 1, max: 25 }).chain((n) =>
    fc.tuple(
      fc.constant(n),
      fc.array(fc.array(fc.nat(), { maxLength: 4 }), { minLength: n, maxLength: n }),
    ),
  ).map(([n, picks]) =>
    Array.from({ length: n }, (_, i) => t(`t${i}`, i === 0 ? [] : [...new Set(picks[i]!.map((p) => `t${p % i}`))])),
  );

  it('random DAGs validate (property)', () => {
    fc.assert(fc.property(dag, (tasks) => {
      expect(validateWorkflow({ tasks }).tasks).toHaveLength(tasks.length);
    }));
  });

  it('adding a back edge is always reported as a cycle (property)', () => {
    fc.assert(
      fc.property(dag.filter((tasks) => tasks.some((x) => x.dependencies.length > 0)), fc.nat(), (tasks, pick) => {
        // A path from i to j exists (i depends on j); j depending on i closes a cycle.
        const withDeps = tasks.filter((x) => x.dependencies.length > 0);
        const from = withDeps[pick % withDeps.length]!;
        const to = tasks.find((x) => x.id === from.dependencies[0])!;
        to.dependencies = [...to.dependencies, from.id];
        const error = workflowError({ tasks });
        expect(error.message).toMatch(/dependency cycle/);
        const cycle = error.details.cycle as string[];
        expect(cycle[0]).toBe(cycle[cycle.length - 1]);
      }),
    );
  });
});

describe('loadCampaign', () => {
  const workspace = (file: string, source: string): string => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ms-camp-'));
    const ws = path.join(dir, 'my_campaign');
    mkdirSync(ws);
    writeFileSync(path.join(ws, file), source);
    return ws;
  };

  it('loads named exports from campaign.mjs', async () => {
    const ws = workspace('campaign.mjs', `
      export function plan(state) { return state === null ? { tasks: [{ id: 'a', command: 'true' }] } : null; }
      export async function analyze(state, results) { return { done: Object.keys(results) }; }
    `);
    const campaign = await loadCampaign(ws);
    expect(campaign.name).toBe('my_campaign');
    expect(await campaign.plan(null)).toEqual({ tasks: [{ id: 'a', command: 'true' }] });
    expect(await campaign.analyze(null, { a: { status: 'COMPLETED' } })).toEqual({ done: ['a'] });
    expect(await campaign.plan({ done: ['a'] })).toBeNull();
  });

  it('loads a default-exported object from campaign.ts', async () => {
    const ws = workspace('campaign.ts', `
      interface State { n: number }
      const campaign = {
        limit: 2,
        plan(state: State | null) { return (state?.n ?? 0) < this.limit ? { tasks: [{ id: 't' + (state?.n ?? 0), command: ['echo', 'x'] }] } : null; },
        analyze(state: State | null): State { return { n: (state?.n ?? 0) + 1 }; },
      };
      export default campaign;
    `);
    const campaign = await loadCampaign(ws, { name: 'demo/ts' });
    expect(await campaign.plan({ n: 1 })).toEqual({ tasks: [{ id: 't1', command: ['echo', 'x'] }] });
    expect(await campaign.plan({ n: 2 })).toBeNull();
    expect(await campaign.analyze({ n: 1 }, {})).toEqual({ n: 2 });
  });

  it('non-JSON state is a CAMPAIGN_ERROR naming the campaign', async () => {
    const ws = workspace('campaign.mjs', `
      export const plan = () => null;
      export const analyze = (state, results) => results.kind?.data === 'date' ? { when: new Date() } : results.kind?.data === 'nan' ? { x: NaN } : { f: () => 1 };
    `);
    const campaign = await loadCampaign(ws);
    for (const data of ['date', 'nan', 'fn']) {
      await expect(campaign.analyze(null, { kind: { status: 'COMPLETED', data } })).rejects.toMatchObject({
        code: 'CAMPAIGN_ERROR',
        message: expect.stringMatching(/campaign my_campaign: .*not JSON-serialisable/),
      });
    }
  });

  it('rejects modules without functions, throwing hooks and a forgotten return', async () => {
    await expect(loadCampaign(workspace('campaign.mjs', 'export const plan = 1; export const analyze = () => 1;'))).rejects.toMatchObject({ code: 'CAMPAIGN_ERROR', message: expect.stringMatching(/plan.*function/) });
    await expect(loadCampaign(workspace('campaign.mjs', 'export const x = 1;'))).rejects.toMatchObject({ code: 'CAMPAIGN_ERROR' });
    await expect(loadCampaign(workspace('campaign.mjs', 'this is not javascript'))).rejects.toMatchObject({ code: 'CAMPAIGN_ERROR' });
    const throwing = await loadCampaign(workspace('campaign.mjs', 'export const plan = () => { throw new Error("boom"); }; export const analyze = () => {};'));
    await expect(throwing.plan(null)).rejects.toMatchObject({ code: 'CAMPAIGN_ERROR', message: expect.stringMatching(/plan failed: boom/) });
    await expect(throwing.analyze(null, {})).rejects.toMatchObject({ code: 'CAMPAIGN_ERROR', message: expect.stringMatching(/undefined/) });
    const silent = await loadCampaign(workspace('campaign.mjs', 'export const plan = () => {}; export const analyze = () => null;'));
    await expect(silent.plan(null)).rejects.toMatchObject({ code: 'CAMPAIGN_ERROR', message: expect.stringMatching(/return null/) });
    await expect(loadCampaign(mkdtempSync(path.join(tmpdir(), 'ms-empty-')))).rejects.toMatchObject({ code: 'WORKSPACE_NOT_FOUND' });
  });
});
