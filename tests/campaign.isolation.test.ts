import { afterEach, describe, expect, it } from 'vitest';
import { explainRun } from '../views/explain-run.ts';
import { initializeRun, type RunHandle } from '../host/run-lifecycle.ts';
import { runUntilCompletion } from '../host/drive-run.ts';
import type { Campaign } from '../campaign/campaign.ts';
import { campaignTimeoutMs } from '../campaign/campaign-call.ts';
import { loadCampaign } from '../campaign/load-campaign.ts';
import { getCampaignStates, getRun } from '../projections/queries.ts';
import { tempRoot, type TempRoot } from './harness/workspace.ts';

// Campaign code runs in a worker thread per run with a timeout: hangs, spins and bad values fail
// the campaign step (the run FAILS with the reason), never the host.

const FIRST = `{ tasks: [{ id: 'a', command: 'true' }] }`;
let temp: TempRoot;
const opened: RunHandle[] = [];
afterEach(async () => {
  for (const run of opened.splice(0)) await run.close();
  temp?.cleanup();
});

async function start(slug: string, campaign: string, options: { campaign?: Campaign } = {}): Promise<RunHandle> {
  temp.workspace(slug, campaign);
  const run = await initializeRun({ root: temp.root, workspace: slug, ...options });
  opened.push(run);
  return run;
}

async function reasonOf(run: RunHandle): Promise<{ status: string | undefined; reason: string | null | undefined; explained: string | null }> {
  const view = getRun(await run.store.views(), run.runId);
  return { status: view?.status, reason: view?.statusReason, explained: (await explainRun(run)).reason };
}

describe('campaign calls run off the host and within a timeout', () => {
  it('a plan that loops for ever fails the step with CAMPAIGN_TIMEOUT, shown by status and explain', async () => {
    temp = tempRoot();
    const run = await start('spin', `export const plan = (s) => { if (s === null) return ${FIRST}; for (;;) {} }; export const analyze = () => 1;`);
    expect(await runUntilCompletion(run, { campaignTimeoutMs: 1000 })).toBe('FAILED');
    const { status, reason, explained } = await reasonOf(run);
    expect(status).toBe('FAILED');
    expect(reason).toMatch(/CAMPAIGN_TIMEOUT: campaign spin: plan did not return within 1000 ms/);
    expect(explained).toBe(reason);
  });

  it('an analyze whose promise never settles fails the step (timeout from MATTERSTACK_CAMPAIGN_TIMEOUT_MS)', async () => {
    temp = tempRoot();
    const run = await start('stuck', `export const plan = (s) => s === null ? ${FIRST} : null; export const analyze = () => new Promise(() => {});`);
    process.env.MATTERSTACK_CAMPAIGN_TIMEOUT_MS = '800';
    try {
      expect(await runUntilCompletion(run)).toBe('FAILED');
    } finally {
      delete process.env.MATTERSTACK_CAMPAIGN_TIMEOUT_MS;
    }
    expect((await reasonOf(run)).reason).toMatch(/CAMPAIGN_TIMEOUT: campaign stuck: analyze did not return within 800 ms/);
  });

  it('a first plan that loops for ever fails init with CAMPAIGN_TIMEOUT, and nothing is logged', async () => {
    temp = tempRoot();
    temp.workspace('spin0', 'export const plan = () => { for (;;) {} }; export const analyze = () => 1;');
    await expect(initializeRun({ root: temp.root, workspace: 'spin0', runId: 'never', campaignTimeoutMs: 500 })).rejects.toMatchObject({
      code: 'CAMPAIGN_TIMEOUT',
      message: expect.stringMatching(/^campaign spin0: plan did not return within 500 ms/),
    });
    const run = await start('other', 'export const plan = () => null; export const analyze = () => null;');
    expect(await run.store.log.lastSeq('never')).toBe(0);
  });

  it('an in-process campaign object whose promise never settles fails the step too', async () => {
    temp = tempRoot();
    const campaign: Campaign = { plan: (s) => (s === null ? { tasks: [{ id: 'a', command: 'true' }] } : null), analyze: () => new Promise(() => {}) };
    const run = await start('inline', 'export const plan = () => null; export const analyze = () => null;', { campaign });
    expect(await runUntilCompletion(run, { campaign, campaignTimeoutMs: 300 })).toBe('FAILED');
    expect((await reasonOf(run)).reason).toMatch(/CAMPAIGN_TIMEOUT: campaign inline: analyze did not return within 300 ms/);
  });

  it('a timeout that is not a positive integer is refused, naming the variable', () => {
    for (const bad of ['-1', '0', '1.5', 'soon']) {
      process.env.MATTERSTACK_CAMPAIGN_TIMEOUT_MS = bad;
      try {
        expect(() => campaignTimeoutMs()).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED', message: `MATTERSTACK_CAMPAIGN_TIMEOUT_MS must be a positive integer (milliseconds), got "${bad}"` }));
      } finally {
        delete process.env.MATTERSTACK_CAMPAIGN_TIMEOUT_MS;
      }
    }
    expect(campaignTimeoutMs()).toBe(600_000);
  });

  it('a campaign hanging in one run does not stop another run of the same process', async () => {
    temp = tempRoot();
    const hung = await start('hung', `export const plan = (s) => { if (s === null) return ${FIRST}; for (;;) {} }; export const analyze = () => 1;`);
    const fine = await start('fine', `export const plan = (s) => (s ?? 0) < 3 ? { tasks: [{ id: 't' + (s ?? 0), command: 'true' }] } : null; export const analyze = (s) => (s ?? 0) + 1;`);
    const stop = new AbortController();
    const hanging = runUntilCompletion(hung, { signal: stop.signal });
    // The hung campaign has the default 10-minute limit: the other run completes while it spins.
    expect(await runUntilCompletion(fine)).toBe('COMPLETED');
    expect(getCampaignStates(await fine.store.views(), fine.runId).map((s) => s.state)).toEqual([null, 1, 2, 3]);
    // Stopping the host abandons the hung call; the run stays where it was, awaiting its campaign.
    stop.abort();
    expect(await hanging).toBe('RUNNING');
  });

  it('an unhandled rejection in campaign code fails that step, not the process', async () => {
    temp = tempRoot();
    const run = await start('stray', `export const plan = (s) => s === null ? ${FIRST} : null; export const analyze = () => { Promise.reject(new Error('nobody waits for me')); return 1; };`);
    expect(await runUntilCompletion(run)).toBe('FAILED');
    expect((await reasonOf(run)).reason).toMatch(/CAMPAIGN_ERROR: campaign stray: analyze failed: unhandled rejection in campaign code: nobody waits for me/);
  });

  it('an exception thrown by campaign code between calls ends its worker, not the host; the next call gets a new worker', async () => {
    temp = tempRoot();
    const dir = temp.workspace('late', `export const plan = (s) => { if (s === null) setTimeout(() => { throw new Error('late'); }, 20); return null; }; export const analyze = () => ({ ok: true });`);
    const campaign = await loadCampaign(dir);
    try {
      expect(await campaign.plan(null)).toBeNull();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(await campaign.analyze(null, {})).toEqual({ ok: true });
    } finally {
      await campaign.close();
    }
  });

  it('an exception thrown by campaign code during a call fails that call', async () => {
    temp = tempRoot();
    const run = await start('thrower', `export const plan = (s) => s === null ? ${FIRST} : null; export const analyze = () => { setTimeout(() => { throw new Error('from a timer'); }, 0); return new Promise(() => {}); };`);
    expect(await runUntilCompletion(run)).toBe('FAILED');
    expect((await reasonOf(run)).reason).toMatch(/CAMPAIGN_ERROR: campaign thrower: analyze failed: the campaign worker stopped: from a timer/);
  });

  it('a circular state names the campaign, the call and the place', async () => {
    temp = tempRoot();
    const run = await start('loopy', `export const plan = (s) => s === null ? ${FIRST} : null; export const analyze = () => { const s = { a: { b: 1 } }; s.a.back = s; return s; };`);
    expect(await runUntilCompletion(run)).toBe('FAILED');
    expect((await reasonOf(run)).reason).toMatch(/campaign loopy: analyze returned a state that is not JSON-serialisable: state\.a\.back is a circular reference/);
  });

  it('a 100,000-deep workflow names the campaign and the call, and nothing is logged', async () => {
    temp = tempRoot();
    const deep = `export const plan = () => { let v = {}; for (let i = 0; i < 100000; i++) v = { v }; return { tasks: [{ id: 'a', command: 'true', env: v }] }; }; export const analyze = () => 1;`;
    temp.workspace('deep', deep);
    await expect(initializeRun({ root: temp.root, workspace: 'deep', runId: 'deep_run' })).rejects.toMatchObject({
      code: 'CAMPAIGN_ERROR',
      message: expect.stringMatching(/^campaign deep: plan returned a workflow that is not JSON-serialisable: workflow is nested deeper than 1000 levels$/),
    });
    const inline: Campaign = { plan: () => { let v: unknown = 1; for (let i = 0; i < 100_000; i++) v = [v]; return v as never; }, analyze: () => 1 };
    await expect(initializeRun({ root: temp.root, workspace: 'deep', campaign: inline })).rejects.toMatchObject({ code: 'CAMPAIGN_ERROR', message: expect.stringMatching(/campaign deep: plan returned/) });
  });
});

describe('maxIterations', () => {
  it('a plan that always returns an empty workflow fails the run after 1,000 iterations (the default)', async () => {
    temp = tempRoot();
    const campaign: Campaign = { plan: () => ({ tasks: [] }), analyze: () => null };
    const run = await start('empty', 'export const plan = () => null; export const analyze = () => null;', { campaign });
    expect(await runUntilCompletion(run, { campaign })).toBe('FAILED');
    const views = await run.store.views();
    expect(getCampaignStates(views, run.runId)).toHaveLength(1000);
    expect(getRun(views, run.runId)?.statusReason).toMatch(/campaign planned more than maxIterations \(1000\) workflows without returning null/);
  });

  it('a campaign sets its own limit by exporting maxIterations', async () => {
    temp = tempRoot();
    const run = await start('capped', `export const maxIterations = 3; export const plan = (s) => ({ tasks: [{ id: 't' + (s ?? 0), command: 'true' }] }); export const analyze = (s) => (s ?? 0) + 1;`);
    expect(await runUntilCompletion(run)).toBe('FAILED');
    const views = await run.store.views();
    expect(getCampaignStates(views, run.runId).map((s) => s.state)).toEqual([null, 1, 2]);
    expect(getRun(views, run.runId)?.statusReason).toMatch(/maxIterations \(3\)/);
  });
});

describe('a task spec is copied once before validation', () => {
  it('a getter is read once: what was validated is what runs', async () => {
    temp = tempRoot();
    let reads = 0;
    const task = { id: 'a', get command(): unknown { reads += 1; return reads === 1 ? 'true' : { evil: true }; } };
    const campaign: Campaign = { plan: (s) => (s === null ? { tasks: [task as never] } : null), analyze: () => 1 };
    const run = await start('getter', 'export const plan = () => null; export const analyze = () => null;', { campaign });
    expect(reads).toBe(1);
    expect(await runUntilCompletion(run, { campaign })).toBe('COMPLETED');
    expect(reads).toBe(1);
  });
});
