// Python campaigns (npm run bench -- python): what a call to a campaign run as a command costs
// (one python3 process per plan/analyze: the interpreter's start dominates; goal ≤ 100 ms), and a
// 5-iteration campaign of 200 instant tasks per iteration as campaign.py against the same campaign
// as campaign.mjs (worker thread), both through initializeRun → runUntilCompletion with the instant
// in-process operator of bench/workloads.ts, on the embedded log.
//   tsx bench/python-campaign.bench.ts
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { OperatorEntry } from '../workspace/operators-config.ts';
import { loadCampaign } from '../campaign/load-campaign.ts';
import { initializeRun } from '../host/run-lifecycle.ts';
import { runUntilCompletion } from '../host/drive-run.ts';
import { InstantOperator } from '../harness/instant-operator.ts';

const CALLS = 20;
const ITERATIONS = 5;
const TASKS = 200;

/** The same campaign in both languages: ITERATIONS workflows of TASKS tasks, the state counting iterations. */
const PYTHON_CAMPAIGN = `from matterstack_campaign import run

def plan(state):
    iteration = 0 if state is None else state["iteration"] + 1
    if iteration >= ${ITERATIONS}:
        return None
    return {"tasks": [{"id": "w%d_t%06d" % (iteration, i), "command": "true"} for i in range(${TASKS})]}

def analyze(state, results):
    return {"iteration": 0 if state is None else state["iteration"] + 1}

if __name__ == "__main__":
    run(plan=plan, analyze=analyze)
`;

const TS_CAMPAIGN = `export function plan(state) {
  const iteration = state === null ? 0 : state.iteration + 1;
  if (iteration >= ${ITERATIONS}) return null;
  return { tasks: Array.from({ length: ${TASKS} }, (_, i) => ({ id: 'w' + iteration + '_t' + String(i).padStart(6, '0'), command: 'true' })) };
}
export function analyze(state) {
  return { iteration: state === null ? 0 : state.iteration + 1 };
}
`;

/** A temp workspaces root with workspace `bench` holding `file`. */
function benchRoot(file: string, text: string): { root: string; dir: string } {
  const root = mkdtempSync(join(tmpdir(), 'ms-bench-py-'));
  const dir = join(root, 'bench');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, file), text);
  return { root, dir };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** Median wall time (ms) of starting `python -c pass`: the part of a call no campaign code can save. */
function startMs(python: string): number {
  const times: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    const start = performance.now();
    spawnSync(python, ['-c', 'pass']);
    times.push(performance.now() - start);
  }
  return median(times);
}

/** Median wall time (ms) of CALLS plan and CALLS analyze calls of the campaign in `dir`. */
async function callOverhead(dir: string): Promise<{ plan: number; analyze: number }> {
  const campaign = await loadCampaign(dir);
  try {
    const plan: number[] = [];
    const analyze: number[] = [];
    for (let i = 0; i < CALLS; i++) {
      let start = performance.now();
      await campaign.plan({ iteration: 0 }, { runId: 'bench', iteration: 1 });
      plan.push(performance.now() - start);
      start = performance.now();
      await campaign.analyze({ iteration: 0 }, {}, { runId: 'bench', iteration: 1 });
      analyze.push(performance.now() - start);
    }
    return { plan: median(plan), analyze: median(analyze) };
  } finally {
    await campaign.close();
  }
}

/** Wall seconds from init to the end of the 5 × 200 campaign in `root`. */
async function campaignSeconds(root: string): Promise<{ status: string; seconds: number }> {
  const factories = { local: (_key: string, _entry: OperatorEntry) => new InstantOperator() };
  const start = performance.now();
  const run = await initializeRun({ root, workspace: 'bench', runId: 'bench_run', maxConcurrent: null });
  try {
    const status = await runUntilCompletion(run, { registry: { factories } });
    return { status, seconds: (performance.now() - start) / 1000 };
  } finally {
    await run.close();
  }
}

/** The interpreters to measure: `python3` as found on PATH, and the real one behind it when that differs (a pyenv shim). */
function interpreters(): { label: string; python: string }[] {
  const real = spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).stdout.trim();
  const shim = spawnSync('sh', ['-c', 'command -v python3'], { encoding: 'utf8' }).stdout.trim();
  return real !== '' && real !== shim ? [{ label: `python3 (${shim})`, python: 'python3' }, { label: real, python: real }] : [{ label: real || 'python3', python: 'python3' }];
}

/** Prints the call overheads and the 5 × 200 campaign in Python and TypeScript. */
export async function main(): Promise<void> {
  const saved = process.env.MATTERSTACK_PYTHON;
  const roots: string[] = [];
  try {
    console.log(`\nPython campaigns: median of ${CALLS} calls (ms), one process per call; goal ≤ 100 ms`);
    const ts = benchRoot('campaign.mjs', TS_CAMPAIGN);
    const py = benchRoot('campaign.py', PYTHON_CAMPAIGN);
    roots.push(ts.root, py.root);
    for (const { label, python } of interpreters()) {
      process.env.MATTERSTACK_PYTHON = python;
      const { plan, analyze } = await callOverhead(py.dir);
      console.log(`  ${label.padEnd(50)} plan ${plan.toFixed(1).padStart(7)}  analyze ${analyze.toFixed(1).padStart(7)}  (\`${python} -c pass\` alone: ${startMs(python).toFixed(1)})`);
    }
    const worker = await callOverhead(ts.dir);
    console.log(`  ${'TypeScript (worker thread, for reference)'.padEnd(50)} plan ${worker.plan.toFixed(1).padStart(7)}  analyze ${worker.analyze.toFixed(1).padStart(7)}`);

    console.log(`\ncampaign ${ITERATIONS} x ${TASKS} instant tasks, init → COMPLETED (s), embedded log`);
    for (const [label, file, text] of [
      [`campaign.py (${process.env.MATTERSTACK_PYTHON})`, 'campaign.py', PYTHON_CAMPAIGN],
      ['campaign.mjs (TypeScript, worker thread)', 'campaign.mjs', TS_CAMPAIGN],
    ] as const) {
      const { root } = benchRoot(file, text);
      roots.push(root);
      const { status, seconds } = await campaignSeconds(root);
      console.log(`  ${label.padEnd(50)} ${status.padEnd(10)} ${seconds.toFixed(3).padStart(7)}`);
    }
  } finally {
    if (saved === undefined) delete process.env.MATTERSTACK_PYTHON;
    else process.env.MATTERSTACK_PYTHON = saved;
    for (const root of roots) rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
