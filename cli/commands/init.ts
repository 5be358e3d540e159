import { z } from 'zod';
import { parseWorkspaceSlug } from '../../workspace/workspace.ts';
import { MatterStackError } from '../../events/errors.ts';
import { defineCommand, requiredArg, stringOption, type CommandContext } from '../command.ts';
import { natsInit } from '../nats-session.ts';
import { natsTarget } from '../nats-target.ts';
import { issuer } from '../send-run-command.ts';
import { EXIT_CODES } from '../exit-codes.ts';
import { resolveRoot } from '../open-store.ts';
import { parseId } from '../parse-id.ts';
import { commandPrefix } from '../run-status-format.ts';

const MaxConcurrentSchema = z.union([z.literal('unlimited').transform(() => null), z.coerce.number().int().positive()]);

/** Prints the new run id (stdout) and what to do next (stderr); --json: {"runId","workspace"[,"runDir"]}. */
function printCreated(ctx: CommandContext, runId: string, workspace: string, runDir: string | undefined, next: string): number {
  if (ctx.global.json) {
    ctx.out.data({ runId, workspace, ...(runDir !== undefined ? { runDir } : {}) });
  } else {
    ctx.out.line(runId);
    const verb = runDir === undefined ? 'status' : 'loop';
    ctx.out.note(`created run ${runId} of ${workspace}; ${next} ${commandPrefix(ctx)} ${verb} ${runId}`);
  }
  return EXIT_CODES.OK;
}

/** `init <workspace>`: creates a run and records the campaign's first workflow. */
export const initCommand = defineCommand({
  name: 'init',
  summary: 'create a run of a workspace\'s campaign and print its id',
  description: [
    'Loads the workspace\'s campaign (campaign.ts / .js / .mjs), checks operators.yaml, asks the',
    'campaign for its first workflow and validates it (unknown dependencies, duplicate ids, cycles).',
    'Nothing is recorded unless all of that succeeds. The run starts PENDING; drive it with',
    '"matterstack loop <run>" or "matterstack step <run>". A run id whose folder (<workspace>/runs/<id>/)',
    'already exists is refused (exit 4): its files would be taken for the new run\'s results.',
  ].join('\n'),
  group: 'runs',
  args: [{ name: 'workspace', required: true, description: 'workspace slug under the root, e.g. demos/battery_screening' }],
  options: {
    'run-id': { type: 'string', valueName: 'ID', description: 'choose the run id (letters, digits, "_" or "-"; default: YYYYMMDD_HHMMSS_<8 hex>)' },
    'max-concurrent': { type: 'string', valueName: 'N', description: 'cap on attempts active at once for this run, or "unlimited" (default: operators.yaml max_concurrent_global, else 10)' },
  },
  examples: ['init demos/battery_screening', 'init lab --run-id screening_v2 --max-concurrent 4', 'RUN=$(matterstack init lab) && matterstack loop "$RUN"'],
  notes: [
    'Output: the run id alone on stdout (so $(matterstack init …) works); with --json {"runId": …}.',
    'With --nats a worker ("matterstack worker") creates the run from its own root and starts running it at once.',
  ],
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
    const target = natsTarget(ctx);
    if (target !== undefined) {
      // The worker loads the campaign from its own root and starts hosting the run at once.
      const by = issuer(ctx);
      const created = await natsInit(target, {
        workspace,
        ...(runId !== undefined ? { runId } : {}),
        ...(maxConcurrent !== undefined ? { maxConcurrent } : {}),
        ...(by !== undefined ? { by: by.slice(0, 128) } : {}),
      });
      return printCreated(ctx, created.runId, workspace, undefined, 'the worker runs it; watch it with');
    }
    const root = resolveRoot(ctx);
    const { initializeRun } = await import('../../host/run-lifecycle.ts');
    const handle = await initializeRun({
      root,
      workspace,
      ...(runId !== undefined ? { runId } : {}),
      ...(maxConcurrent !== undefined ? { maxConcurrent } : {}),
      ...(ctx.global.natsUrl ? { natsUrl: ctx.global.natsUrl } : {}),
    });
    await handle.close();
    return printCreated(ctx, handle.runId, handle.workspace, handle.runDir, 'next:');
  },
});
