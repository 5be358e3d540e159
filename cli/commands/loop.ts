import type { RunStore } from '../../host/run-store.ts';
import { sleepUnlessAborted } from '../../events/sleep.ts';
import { getRun, getRunStatus, listRuns, type RunStatusView } from '../../projections/queries.ts';
import { isMatterStackError } from '../../events/errors.ts';
import { TERMINAL_RUN_STATUSES, type RunStatus } from '../../events/statuses.ts';
import { defineCommand, type CommandContext } from '../command.ts';
import { EXIT_CODES } from '../exit-codes.ts';
import { hostedError, withLoopLeases } from '../loop-leases.ts';
import { withRun, withStore } from '../open-store.ts';
import { ProgressDisplay, progressMode } from '../progress-display.ts';
import { nextCycleSeconds } from '../next-cycle.ts';
import { loadOperatorsConfig } from '../../workspace/operators-config.ts';
import { toCliFailure } from '../report-error.ts';
import { commandPrefix } from '../run-status-format.ts';
import { exitCodeForStatus, exitCodeForStatuses, RUN_OUTCOME_NOTE } from '../run-outcome.ts';

const REDRAW_MS = 200;
/** How `explain` names a run's driver while this loop drives it. */
const LOOP_DRIVER = 'matterstack loop';
const IDLE_ROUND_MS = 500;

/** `loop [<run>]`: drives one run until it is terminal, or every active run round-robin. */
export const loopCommand = defineCommand({
  name: 'loop',
  summary: 'drive a run (or every active run) until it finishes',
  description: [
    'With a run id: drives that run until COMPLETED, FAILED or CANCELLED, reacting as soon as a task',
    'finishes or a command arrives (approve, pause, … from another terminal). Without one: steps every',
    'active run of every workspace in turn until none is active (runs created meanwhile are picked up;',
    'a PAUSED run counts as active, so the loop waits for it).',
    'On a terminal it shows a live block per run, cut to the terminal\'s width: status and iteration, where',
    'it is (a phase, "waiting (next cycle in N s)", "waiting for approval of <gate>", "waiting for the',
    'campaign"; N: the poll_interval_seconds of the operators it waits on) and its tasks (done, running,',
    'waiting, pending, failed, cancelled); otherwise it logs a line when something changes; --json streams',
    'JSON lines {"event":"progress","where",…} and ends with {"event":"end","runs":[{"runId","status"}],"exitCode"}.',
    'Ctrl-C stops cleanly: tasks already started keep running and the run resumes where it was with',
    'the next loop.',
  ].join('\n'),
  group: 'runs',
  args: [{ name: 'run', required: false, description: 'the run id (omit: every active run)' }],
  options: {},
  examples: ['loop 20250101_120000_1a2b3c4d', 'loop                      # every active run, round-robin', 'loop r1 --json > progress.jsonl'],
  notes: [
    RUN_OUTCOME_NOTE + '\nWithout a run id: 10 if any run FAILED, else 11 if any was CANCELLED.',
    'On the embedded log loop holds the run\'s host lock (runs/<run>/.matterstack/host.lock, released when it exits,\nkill -9 included): a second loop or a step on the same run is refused (exit 4) naming it; a cancel waits for it\nto stop the attempts. A loop started while a cancel or a step hosts the run waits for it.',
    'With --nats, loop holds the run\'s lease as a worker does, so no worker hosts the run meanwhile; a run a worker\nhosts is refused (exit 4; skipped with a note without a run id): send it commands instead.',
  ],
  async run(ctx) {
    const runId = ctx.args.run;
    return runId === undefined ? loopAll(ctx) : loopOne(ctx, runId);
  },
});

/**
 * Redraws at most every REDRAW_MS while the run moves (projection queries are not free on big runs).
 * A redraw that fails (the projections cannot be written) is raised by `stop`, never left unhandled.
 */
function scheduler(render: () => Promise<void>): { poke(): void; stop(): Promise<void> } {
  let dirty = true;
  let failure: { error: unknown } | undefined;
  let rendering = Promise.resolve();
  const timer = setInterval(() => {
    if (!dirty || failure !== undefined) return;
    dirty = false;
    rendering = rendering.then(render).catch((error: unknown) => {
      failure ??= { error };
    });
  }, REDRAW_MS);
  return {
    poke: () => {
      dirty = true;
    },
    stop: async () => {
      clearInterval(timer);
      await rendering;
      if (failure !== undefined) throw failure.error;
      await render();
    },
  };
}

async function viewsOf(store: RunStore, runIds: Iterable<string>): Promise<RunStatusView[]> {
  const db = await store.views();
  return [...runIds].map((id) => getRunStatus(db, id)).filter((v): v is RunStatusView => v !== undefined);
}

function interrupted(ctx: CommandContext, runIds: string[]): number {
  const prefix = commandPrefix(ctx);
  ctx.out.note(`stopped; resume with: ${runIds.length === 1 ? `${prefix} loop ${runIds[0]}` : `${prefix} loop`}`);
  return EXIT_CODES.INTERRUPTED;
}

function end(ctx: CommandContext, outcomes: Map<string, RunStatus>, exitCode: number): number {
  const runs = [...outcomes].map(([runId, status]) => ({ runId, status }));
  if (ctx.global.json) ctx.out.jsonLine({ event: 'end', runs, exitCode });
  else if (runs.length === 0) ctx.out.line('no active runs');
  else for (const run of runs) ctx.out.line(`run ${run.runId} ended ${run.status}`);
  return exitCode;
}

async function loopOne(ctx: CommandContext, runId: string): Promise<number> {
  return withRun(ctx, runId, (handle, store) =>
    withLoopLeases(ctx, store, async (leases) => {
      const holder = await leases?.claim(handle.runId);
      if (holder !== undefined) throw hostedError(handle.runId, holder);
      const config = loadOperatorsConfig({ workspaceDir: handle.workspaceDir });
      const display = new ProgressDisplay(ctx.out, progressMode(ctx.out), (view) => nextCycleSeconds(config, view));
      const redraw = scheduler(async () => display.update(await viewsOf(store, [handle.runId])));
      const { runUntilCompletion } = await import('../../host/drive-run.ts');
      const signal = leases === undefined ? ctx.signal : AbortSignal.any([ctx.signal, leases.lostSignal(handle.runId)]);
      let status: RunStatus;
      try {
        status = await runUntilCompletion(handle, { signal, onProgress: () => redraw.poke(), driver: LOOP_DRIVER });
      } finally {
        await redraw.stop();
      }
      leases?.throwIfLost(handle.runId);
      if (ctx.signal.aborted && !TERMINAL_RUN_STATUSES.includes(status)) return interrupted(ctx, [handle.runId]);
      return end(ctx, new Map([[handle.runId, status]]), exitCodeForStatus(status));
    }),
  );
}

/** The status each run has in the log now: another process may have driven it on since this loop last stepped it. */
async function readFinalStatuses(store: RunStore, outcomes: Map<string, RunStatus>): Promise<void> {
  const db = await store.views();
  for (const runId of outcomes.keys()) {
    const status = getRun(db, runId)?.status;
    if (status !== undefined) outcomes.set(runId, status);
  }
}

async function loopAll(ctx: CommandContext): Promise<number> {
  const { openRun } = await import('../../host/run-lifecycle.ts');
  const { stepRun } = await import('../../host/drive-run.ts');
  const { withDriverMarks } = await import('../../host/run-driver.ts');
  return withStore(ctx, (store) =>
    withDriverMarks(LOOP_DRIVER, (markDriver) => withLoopLeases(ctx, store, async (leases) => {
      // Runs are stepped in turn: a waiting run is looked at again within a round.
      const display = new ProgressDisplay(ctx.out, progressMode(ctx.out), () => IDLE_ROUND_MS / 1000);
      const outcomes = new Map<string, RunStatus>();
      // A run whose step throws (its workspace was deleted, its config broke) is reported once and left alone.
      const broken = new Map<string, number>();
      // With --nats, a run a worker hosts is that worker's to drive: noted once and left alone.
      const hosted = new Set<string>();
      while (!ctx.signal.aborted) {
        const active = listRuns(await store.views()).filter((r) => !broken.has(r.runId) && !hosted.has(r.runId));
        if (active.length === 0) break;
        let progressed = false;
        for (const run of active) {
          if (ctx.signal.aborted) break;
          try {
            leases?.throwIfLost(run.runId);
            const holder = await leases?.claim(run.runId);
            if (holder !== undefined) {
              hosted.add(run.runId);
              ctx.out.note(`note: ${hostedError(run.runId, holder).message} (skipped)`);
              continue;
            }
            const handle = await openRun({ store, runId: run.runId });
            const status = await stepRun(handle, { driver: LOOP_DRIVER, signal: ctx.signal });
            // Marked once this loop has hosted the run: a run another process hosts keeps that process's record.
            await markDriver(handle.runDir);
            outcomes.set(run.runId, status);
            await handle.close();
            if (TERMINAL_RUN_STATUSES.includes(status)) await leases?.release(run.runId);
          } catch (error) {
            // Another process is driving this run (one writer per run, one host per run): leave it to that
            // process this round, and still report how it ends.
            if (isMatterStackError(error, 'VERSION_CONFLICT') || (isMatterStackError(error, 'COMMAND_REJECTED') && error.details.reason === 'hosted' && leases === undefined)) {
              if (!outcomes.has(run.runId)) outcomes.set(run.runId, run.status);
              continue;
            }
            const failure = toCliFailure(error);
            broken.set(run.runId, failure.exitCode);
            await leases?.release(run.runId);
            ctx.out.note(`error: run ${run.runId}: ${failure.message} (skipped from now on)`);
          }
          if (getRun(await store.views(), run.runId)?.lastSeq !== run.lastSeq) progressed = true;
        }
        display.update(await viewsOf(store, outcomes.keys()));
        if (!progressed) await sleepUnlessAborted(IDLE_ROUND_MS, ctx.signal);
      }
      await readFinalStatuses(store, outcomes);
      const stillActive = [...outcomes].filter(([, status]) => !TERMINAL_RUN_STATUSES.includes(status)).map(([id]) => id);
      if (ctx.signal.aborted && stillActive.length > 0) return interrupted(ctx, stillActive);
      const brokenCode = [...broken.values()][0];
      return end(ctx, outcomes, brokenCode ?? exitCodeForStatuses(outcomes.values()));
    })),
  );
}
