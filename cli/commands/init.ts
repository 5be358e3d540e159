import { z } from 'zod';
import { parseWorkspaceSlug } from '../../actors/workspace.ts';
import { MatterStackError } from '../../events/errors.ts';
import { defineCommand, requiredArg, stringOption } from '../command.ts';
import { EXIT_CODES } from '../exit-codes.ts';
import { resolveRoot } from '../open-store.ts';
import { parseId } from '../parse-id.ts';
import { commandPrefix } from '../run-status-format.ts';

const MaxConcurrentSchema = z.union([z.literal('unlimited').transform(() => null), z.coerce.number().int().positive()]);

/** `init <workspace>`: creates a run and records the campaign's first workflow. */
export const initCommand = defineCommand({
  name: 'init',
  summary: 'create a run of a workspace\'s campaign and print its id',
  description: [
    'Loads the workspace\'s campaign (campaign.ts / .js / .mjs), checks operators.yaml, asks the',
    'campaign for its first workflow and validates it (unknown dependencies, duplicate ids, cycles).',
    'Nothing is recorded unless all of that succeeds. The run starts PENDING; drive it with',
    '"matterstack loop <run>" or "matterstack step <run>".',
  ].join('\n'),
  group: 'runs',
  args: [{ name: 'workspace', required: true, description: 'workspace slug under the root, e.g. demos/battery_screening' }],
  options: {
    'run-id': { type: 'string', valueName: 'ID', description: 'choose the run id (letters, digits, "_" or "-"; default: YYYYMMDD_HHMMSS_<8 hex>)' },
    'max-concurrent': { type: 'string', valueName: 'N', description: 'cap on attempts active at once for this run, or "unlimited" (default: operators.yaml max_concurrent_global, else 10)' },
  },
  examples: ['init demos/battery_screening', 'init lab --run-id screening_v2 --max-concurrent 4', 'RUN=$(matterstack init lab) && matterstack loop "$RUN"'],
  notes: ['Output: the run id alone on stdout (so $(matterstack init …) works); with --json {"runId": …}.'],
  async run(ctx) {
    const workspace = parseWorkspaceSlug(requiredArg(ctx, 'workspace'));
    const runIdOption = stringOption(ctx, 'run-id');
    const runId = runIdOption === undefined ? undefined : parseId('run id', runIdOption);
    const capText = stringOption(ctx, 'max-concurrent');
    let maxConcurrent: number | null | undefined;
    if (capText !== undefined) {
      const cap = MaxConcurrentSchema.safeParse(capText);
      if (!cap.success) throw new MatterStackError('VALIDATION_FAILED', `invalid --max-concurrent "${capText}": must be a positive integer or "unlimited"`);
      maxConcurrent = cap.data;
    }
    const root = resolveRoot(ctx);
    const { initializeRun } = await import('../../actors/run-lifecycle.ts');
    const handle = await initializeRun({
      root,
      workspace,
      ...(runId !== undefined ? { runId } : {}),
      ...(maxConcurrent !== undefined ? { maxConcurrent } : {}),
      ...(ctx.global.natsUrl ? { natsUrl: ctx.global.natsUrl } : {}),
    });
    await handle.close();
    if (ctx.global.json) {
      ctx.out.data({ runId: handle.runId, workspace: handle.workspace, runDir: handle.runDir });
    } else {
      ctx.out.line(handle.runId);
      ctx.out.note(`created run ${handle.runId} of ${workspace}; next: ${commandPrefix(ctx)} loop ${handle.runId}`);
    }
    return EXIT_CODES.OK;
  },
});
