import { mkdirSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import * as matterstack from '../index.ts';
import { oneWorkflowCampaign, tempRoot } from './harness/workspace.ts';

const REPO = path.resolve(import.meta.dirname, '..');

describe('the package root exports the seed compatibility API', () => {
  it('exports the lifecycle functions and the error class', () => {
    for (const name of ['initializeRun', 'initializeOrResumeRun', 'stepRun', 'runUntilCompletion', 'listActiveRuns'] as const) {
      expect(typeof matterstack[name], name).toBe('function');
    }
    expect(new matterstack.RunLifecycleError('RUN_NOT_FOUND', 'x').code).toBe('RUN_NOT_FOUND');
  });

  it('runs an in-process campaign object given to the API (no campaign file needed beyond the workspace)', async () => {
    const temp = tempRoot();
    try {
      temp.workspace('ws', 'export function plan() { return null; } export function analyze() { return null; }');
      const campaign: matterstack.Campaign = {
        plan: (state) => (state === null ? { tasks: [{ id: 'hello', command: 'echo hi' }] } : null),
        analyze: (_state, results) => ({ hello: results.hello?.status ?? 'missing' }),
      };
      const run = await matterstack.initializeRun({ root: temp.root, workspace: 'ws', campaign });
      expect(run.runId).toMatch(/^\d{8}_\d{6}_[0-9a-f]{8}$/);
      expect(await matterstack.runUntilCompletion(run, { campaign })).toBe('COMPLETED');
      await run.close();
      const resumed = await matterstack.initializeOrResumeRun({ root: temp.root, workspace: 'ws', campaign });
      expect(resumed.runId).not.toBe(run.runId);
      await resumed.close();
    } finally {
      temp.cleanup();
    }
  });
});

/** An inline campaign of two workflows (one task each) that records every analyze it gets. */
function recordingCampaign(seen: string[]): matterstack.Campaign<{ done: string[] }> {
  return {
    plan: (state) => {
      const n = state?.done.length ?? 0;
      return n < 2 ? { tasks: [{ id: `inline_${n}`, command: 'true' }] } : null;
    },
    analyze: (state, results) => {
      seen.push(...Object.keys(results));
      return { done: [...(state?.done ?? []), ...Object.keys(results)] };
    },
  };
}

describe('inline campaigns (library API)', () => {
  it('needs no campaign file: initializeRun, stepRun and runUntilCompletion use the handle’s campaign', async () => {
    const temp = tempRoot();
    try {
      mkdirSync(path.join(temp.root, 'bare'));
      const seen: string[] = [];
      const run = await matterstack.initializeRun({ root: temp.root, workspace: 'bare', campaign: recordingCampaign(seen) });
      expect(await matterstack.stepRun(run)).toBe('RUNNING');
      expect(await matterstack.runUntilCompletion(run)).toBe('COMPLETED');
      expect(seen).toEqual(['inline_0', 'inline_1']);
      await run.close();
    } finally {
      temp.cleanup();
    }
  });

  it('never switches to the workspace’s campaign file behind the caller’s back (also after openRun)', async () => {
    const temp = tempRoot();
    try {
      temp.workspace('ws', oneWorkflowCampaign([{ id: 'from_file', command: 'true' }]));
      const seen: string[] = [];
      const campaign = recordingCampaign(seen);
      const run = await matterstack.initializeRun({ root: temp.root, workspace: 'ws', campaign });
      expect(await matterstack.stepRun(run)).toBe('RUNNING');
      await run.close();
      const reopened = await matterstack.openRun({ root: temp.root, runId: run.runId, campaign });
      expect(await matterstack.runUntilCompletion(reopened)).toBe('COMPLETED');
      await reopened.close();
      expect(seen).toEqual(['inline_0', 'inline_1']);
      const store = await matterstack.RunStore.open({ root: temp.root });
      const tasks = (await store.views()).prepare('SELECT task_id FROM tasks WHERE run_id = ? ORDER BY task_id').pluck().all(run.runId);
      await store.close();
      expect(tasks).toEqual(['inline_0', 'inline_1']);
    } finally {
      temp.cleanup();
    }
  });
});

describe('RunLifecycleError', () => {
  /** The error `call` rejects with, checked to be a RunLifecycleError (a MatterStackError) with `code`. */
  async function lifecycleFailure(call: Promise<unknown>, code: matterstack.ErrorCode): Promise<matterstack.RunLifecycleError> {
    const error = await call.then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(matterstack.RunLifecycleError);
    expect(error).toBeInstanceOf(matterstack.MatterStackError);
    expect((error as matterstack.RunLifecycleError).code).toBe(code);
    return error as matterstack.RunLifecycleError;
  }

  it('is what the lifecycle API throws for a missing workspace, a missing run, a taken run id and a bad id', async () => {
    const temp = tempRoot();
    try {
      temp.workspace('ws', oneWorkflowCampaign([{ id: 'a', command: 'true' }]));
      const missing = await lifecycleFailure(matterstack.initializeRun({ root: temp.root, workspace: 'nowhere' }), 'WORKSPACE_NOT_FOUND');
      expect(missing.message).toMatch(/workspace "nowhere" not found/);
      await lifecycleFailure(matterstack.initializeOrResumeRun({ root: temp.root, workspace: 'nowhere' }), 'WORKSPACE_NOT_FOUND');
      const notFound = await lifecycleFailure(matterstack.openRun({ root: temp.root, runId: 'no_such_run' }), 'RUN_NOT_FOUND');
      expect(notFound.message).toMatch(/no_such_run/);
      const run = await matterstack.initializeRun({ root: temp.root, workspace: 'ws', runId: 'taken' });
      await run.close();
      await lifecycleFailure(matterstack.initializeRun({ root: temp.root, workspace: 'ws', runId: 'taken' }), 'RUN_EXISTS');
      await lifecycleFailure(matterstack.initializeRun({ root: temp.root, workspace: 'ws', runId: '../bad' }), 'VALIDATION_FAILED');
      await lifecycleFailure(matterstack.initializeRun({ root: temp.root, workspace: '../up' }), 'VALIDATION_FAILED');
      await lifecycleFailure(matterstack.initializeRun({ root: temp.root, workspace: 'ws', campaignTimeoutMs: -1 }), 'VALIDATION_FAILED');
    } finally {
      temp.cleanup();
    }
  });
});

describe('Campaign<State, Data>', () => {
  it('a typed campaign compiles without casts; a wrong state type does not (tests/types/typed-campaign.ts)', () => {
    const { config } = ts.readConfigFile(path.join(REPO, 'tsconfig.json'), (file) => ts.sys.readFile(file));
    const { options } = ts.parseJsonConfigFileContent(config, ts.sys, REPO);
    const file = path.join(REPO, 'tests/types/typed-campaign.ts');
    const program = ts.createProgram([file], options);
    const source = program.getSourceFile(file);
    if (source === undefined) throw new Error(`${file} not compiled`);
    const problems = [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)].map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    // The fixture's @ts-expect-error turns "no error on the wrong campaign" into a diagnostic too.
    expect(problems).toEqual([]);
  }, 60_000);
});
