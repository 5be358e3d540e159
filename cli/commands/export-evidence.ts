import { defineCommand, requiredArg } from '../command.ts';
import { EXIT_CODES } from '../exit-codes.ts';
import { withRun } from '../open-store.ts';

/** `export-evidence <run>`: the evidence bundle and report, rebuilt from the log. */
export const exportEvidenceCommand = defineCommand({
  name: 'export-evidence',
  summary: 'write runs/<run>/evidence/{bundle.json,report.md} from the log',
  description: [
    'Rebuilds the evidence of a run from its log: bundle.json (run, tasks, every attempt with times,',
    'reasons and results, campaign states per iteration, commands, operator config, log summary) and',
    'report.md (a readable summary). Idempotent: exporting twice gives identical files.',
  ].join('\n'),
  group: 'views',
  args: [{ name: 'run', required: true, description: 'the run id' }],
  options: {},
  examples: ['export-evidence r1', 'export-evidence r1 --json | jq -r .reportPath'],
  notes: [
    '--json prints {"dir","bundlePath","reportPath"}.',
    'A symbolic link (a task may leave one) at evidence/, bundle.json or report.md is refused (exit 2), never written through.',
  ],
  async run(ctx) {
    const { exportEvidence } = await import('../../views/index.ts');
    return withRun(ctx, requiredArg(ctx, 'run'), async (handle) => {
      const { dir, bundlePath, reportPath } = await exportEvidence(handle);
      if (ctx.global.json) ctx.out.data({ dir, bundlePath, reportPath });
      else {
        ctx.out.line(`wrote ${bundlePath}`);
        ctx.out.line(`wrote ${reportPath}`);
      }
      return EXIT_CODES.OK;
    });
  },
});
