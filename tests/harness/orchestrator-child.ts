// An orchestrator process for crash tests: resume (or create) a run and drive it to the end.
import type { LocalOperatorOptions } from '../../operators/local-operator.ts';
import { initializeOrResumeRun, runUntilCompletion } from '../../host/run-lifecycle.ts';

// Optional: the local operator's options as JSON (e.g. a long kill grace, to crash the host inside it).
const [root, workspace, runId, localOptions] = process.argv.slice(2);
if (root === undefined || workspace === undefined || runId === undefined) throw new Error('usage: orchestrator-child <root> <workspace> <runId> [<local operator options JSON>]');
// The test checks that its SIGKILL reached this very process (not a launcher in front of it).
process.stdout.write(`pid ${process.pid}\n`);
const run = await initializeOrResumeRun({ root, workspace, resumeRunId: runId });
const status = await runUntilCompletion(run, localOptions === undefined ? {} : { registry: { local: JSON.parse(localOptions) as LocalOperatorOptions } });
await run.close();
process.stdout.write(`${status}\n`);
