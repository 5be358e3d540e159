import { parseWorkspaceSlug, resolveWorkspaceDir } from '../../workspace/workspace.ts';
import { defineCommand, positiveIntegerOption, requiredArg, stringOption, type CommandContext } from '../command.ts';
import { EXIT_CODES } from '../exit-codes.ts';
import { resolveRoot } from '../open-store.ts';
import { UsageError } from '../usage-error.ts';

/** The --seed option: any 32-bit integer (fast-check's seeds may be negative). */
function seedOption(ctx: CommandContext): number | undefined {
  const text = stringOption(ctx, 'seed');
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || Math.abs(value) > 2 ** 31) {
    throw new UsageError(`--seed must be an integer between -2147483648 and 2147483648 (the seed a failing check printed), got "${text}"`);
  }
  return value;
}

/** `check <workspace>`: model-based property tests of the workspace's campaign. */
export const checkCommand = defineCommand({
  name: 'check',
  summary: 'test a workspace\'s campaign in simulated scenarios: every run must end, plan and analyze never throw',
  description: [
    'Runs the campaign\'s real plan and analyze through the real run and attempt machines, on an in-memory',
    'log, in a simulated world where fast-check chooses how each attempt ends (COMPLETED with drawn results,',
    'FAILED with an exit code, TIMEOUT, lost), how people answer gates and which commands they send (pause,',
    'resume, cancel-attempt, rerun, cancel). No process, job or clock is used. Every scenario must end',
    '(COMPLETED, FAILED by a task, CANCELLED, or resting at a gate) within the iteration limit, with every',
    'plan valid, plan and analyze never throwing, the state JSON and the invariants holding.',
    'The workspace\'s campaign.check.ts (default export: { results, gateData, invariants, runs }) says what',
    'its tasks report and what must always hold. A failure is shrunk to a small scenario, told as a story,',
    'and written as a log that "matterstack replay --verify" reads; --seed reproduces it.',
  ].join('\n'),
  group: 'runs',
  args: [{ name: 'workspace', required: true, description: 'workspace slug under the root, e.g. demos/battery_screening' }],
  options: {
    runs: { type: 'string', valueName: 'N', description: 'scenarios to run (default: campaign.check.ts\'s runs, else 100; 10 for a campaign run as a command, e.g. campaign.py)' },
    seed: { type: 'string', valueName: 'S', description: 'the seed of a previous check: the same scenarios, shrunk to the same failure' },
    'log-dir': { type: 'string', valueName: 'DIR', description: 'where the failing scenario\'s log is written (default: the system\'s temporary folder)' },
  },
  examples: ['check demos/battery_screening', 'check demos/battery_screening --runs 1000', 'check my_screen --seed 1234567'],
  notes: [
    'Exit codes: 0 every scenario passed, 14 a scenario failed (its story, log and replay command are printed).',
    '--json prints the report: ok, seed, scenarios, failure {story, problems, shrinks, log}, coverage.',
  ],
  async run(ctx) {
    const slug = parseWorkspaceSlug(requiredArg(ctx, 'workspace'));
    const runs = positiveIntegerOption(ctx, 'runs');
    const seed = seedOption(ctx);
    const logDir = stringOption(ctx, 'log-dir');
    const workspaceDir = resolveWorkspaceDir(resolveRoot(ctx), slug);
    const { checkWorkspace, formatCheckReport } = await import('../../testing/index.ts');
    const report = await checkWorkspace(workspaceDir, { name: slug, ...(runs !== undefined ? { runs } : {}), ...(seed !== undefined ? { seed } : {}), ...(logDir !== undefined ? { logDir } : {}) });
    if (ctx.global.json) ctx.out.data(report);
    else for (const line of formatCheckReport(report, `matterstack check ${slug} --seed ${report.seed}${runs !== undefined ? ` --runs ${runs}` : ''}`).split('\n')) ctx.out.line(line);
    return report.ok ? EXIT_CODES.OK : EXIT_CODES.CHECK_FAILED;
  },
});
