// An orchestrator process for the Slurm crash test: it drives a run and kills itself with
// SIGKILL right after `sbatch` answered, before the job id is recorded anywhere (no marker
// file, no ATTEMPT.SUBMITTED in the log). Needs SLURM_CONF/PATH of the test cluster.
import { initializeOrResumeRun } from '../../host/run-lifecycle.ts';
import { runUntilCompletion } from '../../host/drive-run.ts';

const [root, workspace, runId] = process.argv.slice(2);
if (root === undefined || workspace === undefined || runId === undefined) throw new Error('usage: slurm-crash-child <root> <workspace> <runId>');
const run = await initializeOrResumeRun({ root, workspace, resumeRunId: runId });
await runUntilCompletion(run, {
  registry: {
    slurm: {
      afterSbatch: (jobId) => {
        process.stdout.write(`SBATCHED ${jobId}\n`);
        process.kill(process.pid, 'SIGKILL');
      },
    },
  },
});
process.stdout.write('NOT KILLED\n');
