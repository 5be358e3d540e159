import { UsageError } from '../usage-error.ts';
import { defineCommand, requiredArg } from '../command.ts';
import { EXIT_CODES } from '../exit-codes.ts';
import { withStore } from '../open-store.ts';

/** `projections rebuild`: drops the read models and refolds them from the log. */
export const projectionsCommand = defineCommand({
  name: 'projections',
  summary: 'rebuild the projections (runs, tasks, attempts tables) from the log',
  description: [
    'The tables that status, list and attempts read are projections of the event log. "rebuild" drops',
    'them and folds the whole log again, in one transaction (safe at any time: the log is the truth; a',
    'record it cannot decode fails it, naming run and sequence, and the projections stay as they were).',
    'Use it after upgrading MatterStack, if a view looks wrong, or to drop runs a lost log no longer has.',
  ].join('\n'),
  group: 'maintenance',
  args: [{ name: 'action', required: true, description: 'rebuild (the only action)' }],
  options: {},
  examples: ['projections rebuild', 'projections rebuild --json'],
  notes: ['Prints the number of events applied (--json: {"applied":N,"skipped":N,"runs":N}).'],
  async run(ctx) {
    const action = requiredArg(ctx, 'action');
    if (action !== 'rebuild') throw new UsageError(`unknown projections action "${action}" (expected: rebuild)`, 'projections');
    return withStore(ctx, async (store) => {
      const result = await store.projector.rebuild(store.log);
      const runs = (await store.log.listRuns()).length;
      if (ctx.global.json) ctx.out.data({ ...result, runs });
      else ctx.out.line(`rebuilt projections of ${runs} run(s): ${result.applied} events applied`);
      return EXIT_CODES.OK;
    });
  },
});
