import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { RunHandle } from '../../host/run-lifecycle.ts';
import { MatterStackError } from '../../events/errors.ts';
import { getCampaignStates, getRunStatus, listAttempts, listCommands } from '../../projections/queries.ts';
import type Sqlite from 'better-sqlite3';
import { defineCommand, flag } from '../command.ts';
import { EXIT_CODES } from '../exit-codes.ts';
import { SELF_TEST_CAMPAIGN, SELF_TEST_EXPECTED_STATE } from '../self-test-campaign.ts';

/** Everything the views show of one run, to compare the live projections with a rebuild. */
function snapshot(db: Sqlite.Database, runId: string) {
  return { status: getRunStatus(db, runId), attempts: listAttempts(db, runId), states: getCampaignStates(db, runId), commands: listCommands(db, runId) };
}

function check(condition: boolean, message: string): void {
  if (!condition) throw new MatterStackError('INVALID_EVENT', `self-test failed: ${message}`);
}

/** Runs the self-test campaign to completion and checks the outcome, the files and the projections. */
async function verify(handle: RunHandle, signal: AbortSignal): Promise<{ events: number; tasks: number }> {
  const { runUntilCompletion } = await import('../../host/drive-run.ts');
  const status = await runUntilCompletion(handle, { signal });
  check(status === 'COMPLETED', `the run ended ${status}, expected COMPLETED`);
  const live = snapshot(await handle.store.views(), handle.runId);
  check(live.status?.tasks.every((t) => t.status === 'COMPLETED') === true, 'not every task COMPLETED');
  for (const attempt of live.attempts) {
    check(attempt.dir !== null && fs.existsSync(path.join(attempt.dir, 'results.json')), `attempt ${attempt.attemptId} left no results.json in its directory`);
  }
  const finalState = live.states.at(-1)?.state;
  check(isDeepStrictEqual(finalState, SELF_TEST_EXPECTED_STATE), `unexpected campaign state ${JSON.stringify(finalState)}`);
  // The projections must be a pure fold of the log: refold it into an empty database and compare.
  const { default: Database } = await import('better-sqlite3');
  const { Projector } = await import('../../projections/projector.ts');
  const scratch = new Database(':memory:');
  try {
    const rebuilt = await new Projector(scratch).rebuild(handle.store.log);
    check(isDeepStrictEqual(snapshot(scratch, handle.runId), live), 'the live projections differ from a rebuild from the log');
    return { events: rebuilt.applied, tasks: live.status?.tasks.length ?? 0 };
  } finally {
    scratch.close();
  }
}

/** `self-test`: runs a small real campaign end to end in a temporary root and checks everything. */
export const selfTestCommand = defineCommand({
  name: 'self-test',
  summary: 'run a small campaign end to end in a temporary folder and check the result',
  description: [
    'Creates a temporary workspaces root with a 3-task campaign of real shell commands, runs it to',
    'COMPLETED through the library, checks every task\'s output files and the campaign state, and',
    'checks that the projections equal a rebuild from the log. Touches nothing outside the temporary',
    'folder (removed afterwards unless --keep). With --nats the run goes to that JetStream log.',
  ].join('\n'),
  group: 'maintenance',
  args: [],
  options: { keep: { type: 'boolean', description: 'keep the temporary folder (its path is printed) to look at the files' } },
  examples: ['self-test', 'self-test --keep --json'],
  notes: ['--json prints {"ok":true,"runId","status","tasks","events","seconds","root"}. Exit 0 when every check passes.'],
  async run(ctx) {
    const started = Date.now();
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'matterstack-self-test-'));
    const keep = flag(ctx, 'keep');
    try {
      fs.mkdirSync(path.join(root, 'selftest'));
      fs.writeFileSync(path.join(root, 'selftest', 'campaign.mjs'), SELF_TEST_CAMPAIGN);
      const { initializeRun } = await import('../../host/run-lifecycle.ts');
      const handle = await initializeRun({ root, workspace: 'selftest', ...(ctx.global.natsUrl ? { natsUrl: ctx.global.natsUrl } : {}) });
      let result: { events: number; tasks: number };
      try {
        result = await verify(handle, ctx.signal);
      } finally {
        await handle.close();
      }
      const seconds = Math.round((Date.now() - started) / 100) / 10;
      if (ctx.global.json) {
        ctx.out.data({ ok: true, runId: handle.runId, status: 'COMPLETED', tasks: result.tasks, events: result.events, seconds, root: keep ? root : null });
      } else {
        ctx.out.line(`ok  run ${handle.runId} of a ${result.tasks}-task campaign COMPLETED (real processes)`);
        ctx.out.line('ok  every task wrote its results; the campaign state is as expected');
        ctx.out.line(`ok  projections equal a rebuild from the log (${result.events} events)`);
        ctx.out.line(`self-test passed in ${seconds} s${keep ? `; files kept in ${root}` : ''}`);
      }
      return EXIT_CODES.OK;
    } finally {
      if (!keep) fs.rmSync(root, { recursive: true, force: true });
    }
  },
});
