import { describe, expect, it } from 'vitest';
import * as matterstack from '../index.ts';
import { tempRoot } from './harness/workspace.ts';

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
