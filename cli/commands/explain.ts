import { defineCommand, requiredArg } from '../command.ts';
import { EXIT_CODES } from '../exit-codes.ts';
import { withRun } from '../open-store.ts';
import type { RunStore } from '../../host/run-store.ts';
import { slotDocsOf } from '../slot-docs.ts';

/** `explain <run>`: why the run is where it is, task by task, with what to do next. */
export const explainCommand = defineCommand({
  name: 'explain',
  summary: 'why each unfinished task is not done, and what to do next',
  description: [
    'For every task that is not COMPLETED: waiting for its operator (with where to look: the gate',
    'directory and approve command, the experiment request file, the pid and log files), ready but',
    'no free slot (which cap is full), blocked by which dependencies, skipped because of which',
    'failure, failed with which reason (with the attempt\'s stdout/stderr paths and the last lines of its',
    'stderr). Names the `loop` or worker driving the run, if one does (its record in the run folder; with',
    '--nats also the run\'s lease, for a user allowed to read it). Ends with the next steps (resume,',
    'approve, rerun, revive, or start a loop when nothing drives the run...).',
  ].join('\n'),
  group: 'views',
  args: [{ name: 'run', required: true, description: 'the run id' }],
  options: {},
  examples: ['explain r1', 'explain r1 --json | jq ".tasks[] | {id, why}"'],
  notes: ['--json prints the explanation object: {runId, status, phase, iteration, slots, tasks:[{id, status, why}], driver, nextSteps}\n(driver: {driver, pid, host, since, checked} or null; a failed task\'s why.logs: {stdout, stderr, stderrTail}).'],
  async run(ctx) {
    const { explainRun, formatExplanation } = await import('../../views/index.ts');
    return withRun(ctx, requiredArg(ctx, 'run'), async (handle) => {
      const explanation = await explainRun(handle, { leaseDriver: () => leaseDriver(handle.store, handle.runId), slotDocs: await slotDocsOf(handle.store) });
      if (ctx.global.json) ctx.out.data(explanation);
      else ctx.out.write(formatExplanation(explanation));
      return EXIT_CODES.OK;
    });
  },
});

/** Who holds the run's NATS lease (`worker w1`), or undefined: embedded log, no holder, or a user who may not read the leases. */
async function leaseDriver(store: RunStore, runId: string): Promise<string | undefined> {
  const [{ JetStreamEventLog }, { RunLeases, isCliHolder, DEFAULT_LEASE_TTL_MS }] = await Promise.all([import('../../storage/jetstream-event-log.ts'), import('../../distributed/run-leases.ts')]);
  if (!(store.log instanceof JetStreamEventLog)) return undefined;
  try {
    const leases = await RunLeases.open(store.log.connection, { workerId: 'explain', ttlMs: DEFAULT_LEASE_TTL_MS });
    const holder = await leases.owner(runId);
    if (holder === undefined) return undefined;
    return isCliHolder(holder) ? `matterstack loop --nats (${holder})` : `worker ${holder}`;
  } catch {
    // The scientist and viewer users may not read the lease bucket: the run folder's record is all there is.
    return undefined;
  }
}
