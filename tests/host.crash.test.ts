import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openRun } from '../host/run-lifecycle.ts';
import { getRunStatus } from '../projections/queries.ts';
import { dumpProjections, rebuiltProjections } from './harness/projection-dump.ts';
import { tempRoot, type TempRoot } from './harness/workspace.ts';
import { seededRandom } from './harness/seeded-random.ts';

const SEEDS = Number(process.env.PROPERTY_RUNS ?? 4);
const CHILD = path.join(import.meta.dirname, 'harness', 'orchestrator-child.ts');
const REPO = path.join(import.meta.dirname, '..');

let temp: TempRoot;
afterEach(() => temp?.cleanup());

/**
 * Two workflows; every task appends its id to its own counter file when it starts, then works
 * 0.3–0.5 s: the critical path (a, d, e, f) outlasts the longest kill delay below, whatever the
 * orchestrator's own speed.
 */
function countingCampaign(countDir: string): string {
  const task = (id: string, dependencies: string[] = []) => ({
    id,
    command: `echo run >> ${countDir}/${id} && sleep 0.$((RANDOM % 3 + 3))`,
    dependencies,
  });
  const first = [task('a'), task('b'), task('c', ['a']), task('d', ['a', 'b'])];
  const second = [task('e', ['d']), task('f', ['c', 'e'])];
  return `
export function plan(state) {
  if (state === null) return ${JSON.stringify({ tasks: first })};
  if (state.iteration === 1) return ${JSON.stringify({ tasks: second })};
  return null;
}
export function analyze(state, results) { return { iteration: (state?.iteration ?? 0) + 1, seen: Object.keys(results) }; }
`;
}

/**
 * Starts the orchestrator; resolves with its exit (code or signal). Node itself runs the script
 * (`--import tsx`): the `tsx` command would run it in a grandchild that a SIGKILL never reaches.
 */
function orchestrate(root: string, runId: string): { done: Promise<{ code: number | null; stdout: string; stderr: string }>; kill(): void } {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, root, 'ws', runId], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('exit', (code) => {
      resolve({ code, stdout, stderr });
    }),
  );
  return { done, kill: () => child.kill('SIGKILL') };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Opens the run's store and checks: COMPLETED, each task's command ran once, projections equal a rebuild. */
async function expectCompletedExactlyOnce(root: string, countDir: string, runId: string): Promise<void> {
  const run = await openRun({ root, runId });
  try {
    const views = await run.store.views();
    expect(getRunStatus(views, runId)?.status).toBe('COMPLETED');
    for (const id of ['a', 'b', 'c', 'd', 'e', 'f']) {
      expect(fs.readFileSync(path.join(countDir, id), 'utf8').trim().split('\n'), `task ${id}`).toEqual(['run']);
    }
    expect(dumpProjections(views)).toEqual(await rebuiltProjections(run.store.log));
  } finally {
    await run.close();
  }
}

describe('crash safety: SIGKILL the orchestrator at random points, restart it', () => {
  for (let seed = 1; seed <= SEEDS; seed++) {
    it(`seed ${seed}: the run completes, every task's command ran exactly once, projections equal a rebuild`, async () => {
      temp = tempRoot('ms-crash-');
      const countDir = path.join(temp.root, 'counts');
      fs.mkdirSync(countDir);
      temp.workspace('ws', countingCampaign(countDir));
      const next = seededRandom(seed);
      const runId = `crash${seed}`;
      let finished = false;
      let killed = 0;
      for (let round = 0; round < 4 && !finished; round++) {
        const orchestrator = orchestrate(temp.root, runId);
        const delay = 200 + Math.floor(next() * 900);
        const timer = setTimeout(() => orchestrator.kill(), delay);
        const exit = await orchestrator.done;
        clearTimeout(timer);
        finished = exit.code === 0;
        if (exit.code === null) {
          killed += 1;
          const reported = /^pid (\d+)$/m.exec(exit.stdout);
          if (reported !== null) expect(isAlive(Number(reported[1])), 'the killed orchestrator is gone').toBe(false);
        }
      }
      // The run outlasts the first kill's delay: every seed really crashes the orchestrator.
      expect(killed).toBeGreaterThan(0);
      if (!finished) {
        const last = await orchestrate(temp.root, runId).done;
        expect(last.code).toBe(0);
      }

      await expectCompletedExactlyOnce(temp.root, countDir, runId);
    }, 60_000);
  }
});

describe('two orchestrators drive the same run at once (two `loop`s by mistake)', () => {
  for (let seed = 1; seed <= Math.max(1, Math.floor(SEEDS / 2)); seed++) {
    it(`seed ${seed}: the run completes once, every task's command ran exactly once, projections equal a rebuild`, async () => {
      temp = tempRoot('ms-twice-');
      const countDir = path.join(temp.root, 'counts');
      fs.mkdirSync(countDir);
      temp.workspace('ws', countingCampaign(countDir));
      const runId = `twice${seed}`;
      const first = orchestrate(temp.root, runId);
      await new Promise((resolve) => setTimeout(resolve, 100 + Math.floor(seededRandom(seed)() * 700)));
      const second = orchestrate(temp.root, runId);
      const exits = await Promise.all([first.done, second.done]);
      // The run's host lock lets one drive; the other is refused naming the host, or (when the first
      // had already finished) finds the run done. Either way the log never gets a second writer.
      expect(exits.map((exit) => exit.code)).toContain(0);
      for (const exit of exits) if (exit.code !== 0) expect(exit.stderr).toMatch(/is hosted by .*drives it already/);
      await expectCompletedExactlyOnce(temp.root, countDir, runId);
    }, 60_000);
  }
});
