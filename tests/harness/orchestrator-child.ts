// An orchestrator process for crash tests: resume (or create) a run and drive it to the end.
import type { LocalOperatorOptions } from '../../operators/local-operator.ts';
import { initializeOrResumeRun } from '../../host/run-lifecycle.ts';
import { runUntilCompletion } from '../../host/drive-run.ts';
import { HeldStartOperator } from './held-start-operator.ts';

// Optional: the local operator's options as JSON (e.g. a long kill grace, to crash the host inside it),
// and `hold-start`: its submits launch the task but never answer (a host to kill with its start in flight).
const [root, workspace, runId, localOptions, mode] = process.argv.slice(2);
if (root === undefined || workspace === undefined || runId === undefined) throw new Error('usage: orchestrator-child <root> <workspace> <runId> [<local operator options JSON> [hold-start]]');
const options = localOptions === undefined ? {} : (JSON.parse(localOptions) as LocalOperatorOptions);
// The test checks that its SIGKILL reached this very process (not a launcher in front of it).
process.stdout.write(`pid ${process.pid}\n`);
const run = await initializeOrResumeRun({ root, workspace, resumeRunId: runId });
const registry = mode === 'hold-start' ? { factories: { local: () => new HeldStartOperator(options) } } : { local: options };
const status = await runUntilCompletion(run, { registry });
await run.close();
process.stdout.write(`${status}\n`);
