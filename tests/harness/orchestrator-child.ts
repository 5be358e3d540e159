// An orchestrator process for crash tests: resume (or create) a run and drive it to the end.
import { initializeOrResumeRun, runUntilCompletion } from '../../actors/run-lifecycle.ts';

const [root, workspace, runId] = process.argv.slice(2);
if (root === undefined || workspace === undefined || runId === undefined) throw new Error('usage: orchestrator-child <root> <workspace> <runId>');
// The test checks that its SIGKILL reached this very process (not a launcher in front of it).
process.stdout.write(`pid ${process.pid}\n`);
const run = await initializeOrResumeRun({ root, workspace, resumeRunId: runId });
const status = await runUntilCompletion(run);
await run.close();
process.stdout.write(`${status}\n`);
