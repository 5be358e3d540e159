import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DomainChange } from '../events/changes.ts';
import type { ValidNewEvent } from '../events/envelope.ts';
import { attemptIdFor } from '../events/ids.ts';
import { taskStatusOfAttempt, type AttemptStatus, type RunStatus } from '../events/statuses.ts';
import type { TaskSpec } from '../events/workflow.ts';
import { Projector } from '../projections/projector.ts';
import { dumpTables, openDb, tempDir } from './projections-fixtures.ts';
import { InMemoryEventLog } from './projections-in-memory-log.ts';
import { seededRandom } from './harness/seeded-random.ts';

const NUM_RUNS = Number(process.env.PROPERTY_RUNS ?? 30);

/** Valid attempt lives: the status paths the attempt machine allows (SPEC §1). */
const ATTEMPT_PATHS: AttemptStatus[][] = [
  ['SUBMITTED', 'RUNNING', 'COMPLETED'],
  ['SUBMITTED', 'RUNNING', 'FAILED'],
  ['SUBMITTED', 'WAITING_EXTERNAL', 'COMPLETED'],
  ['SUBMITTED', 'WAITING_EXTERNAL', 'CANCELLED'],
  ['SUBMITTED', 'COMPLETED'],
  ['FAILED_INIT'],
  ['SUBMITTED', 'RUNNING'],
  [],
];

interface TaskPlan {
  attempts: { path: number; withResults: boolean; withData: boolean }[];
  gate: boolean;
}
interface RunPlan {
  workflows: TaskPlan[][];
  commands: { verb: 'pause' | 'resume' | 'rerun'; accepted: boolean }[];
  end: RunStatus | null;
  maxConcurrent: number | null;
}

const taskPlan: fc.Arbitrary<TaskPlan> = fc.record({
  attempts: fc.array(
    fc.record({ path: fc.nat({ max: ATTEMPT_PATHS.length - 1 }), withResults: fc.boolean(), withData: fc.boolean() }),
    { maxLength: 3 },
  ),
  gate: fc.boolean(),
});

const runPlan: fc.Arbitrary<RunPlan> = fc.record({
  workflows: fc.array(fc.array(taskPlan, { minLength: 1, maxLength: 5 }), { maxLength: 3 }),
  commands: fc.array(fc.record({ verb: fc.constantFrom('pause' as const, 'resume' as const, 'rerun' as const), accepted: fc.boolean() }), {
    maxLength: 3,
  }),
  end: fc.option(fc.constantFrom<RunStatus>('COMPLETED', 'FAILED', 'CANCELLED'), { nil: null }),
  maxConcurrent: fc.option(fc.integer({ min: 1, max: 20 }), { nil: null }),
});

/** A history: several runs, and the seed that interleaves their events and the lanes inside each run. */
const historyArb = fc.record({
  runs: fc.array(runPlan, { minLength: 1, maxLength: 4 }),
  seed: fc.integer(),
});

/** Merges lanes at random, keeping each lane's own order. */
function interleave<T>(lanes: T[][], random: () => number): T[] {
  const out: T[] = [];
  const live = lanes.filter((lane) => lane.length > 0).map((lane) => ({ lane, i: 0 }));
  while (live.length > 0) {
    const k = Math.floor(random() * live.length);
    const pick = live[k]!;
    out.push(pick.lane[pick.i++]!);
    if (pick.i === pick.lane.length) live.splice(k, 1);
  }
  return out;
}

type Step = { actor: string; type: string; changes: DomainChange[] };

/** One run's steps, in an order its machines could have logged them. */
function runSteps(plan: RunPlan, random: () => number): Step[] {
  const steps: Step[] = [
    { actor: 'run', type: 'RUN.CREATED', changes: [{ kind: 'run.created', workspace: 'ws/demo', maxConcurrent: plan.maxConcurrent }] },
    { actor: 'run', type: 'STEP', changes: [{ kind: 'run.status', status: 'RUNNING' }, { kind: 'run.phase', phase: 'plan' }] },
  ];
  plan.workflows.forEach((workflow, iteration) => {
    const tasks: TaskSpec[] = workflow.map((task, t) => ({
      id: `w${iteration}t${t}`,
      kind: task.gate ? 'gate' : 'compute',
      dependencies: t > 0 ? [`w${iteration}t${t - 1}`] : iteration > 0 ? [`w${iteration - 1}t0`] : [],
      allowFailure: false,
      allowDependencyFailure: false,
      ...(task.gate ? { message: `approve ${t}?`, operatorKey: 'human.default' } : { command: `run ${t}` }),
    }));
    steps.push({
      actor: 'run',
      type: 'CAMPAIGN.PLANNED',
      changes: [
        { kind: 'workflow.planned', iteration, tasks },
        { kind: 'campaign.state', iteration, state: { iteration, seen: tasks.map((t) => t.id) } },
        { kind: 'run.phase', phase: 'execute' },
      ],
    });
    // Each task's attempts form one lane (an attempt is created only once the previous one ended).
    const lanes: Step[][] = workflow.map((task, t) => {
      const taskId = `w${iteration}t${t}`;
      const lane: Step[] = [];
      task.attempts.forEach((attempt, a) => {
        const attemptId = attemptIdFor(taskId, a + 1);
        const operatorKey = task.gate ? 'human.default' : 'local.default';
        lane.push({
          actor: 'run',
          type: 'DISPATCH',
          changes: [{ kind: 'attempt.created', attemptId, taskId, operatorKey }, { kind: 'task.status', taskId, status: 'PENDING' }],
        });
        for (const status of ATTEMPT_PATHS[attempt.path]!) {
          const changes: DomainChange[] = [
            {
              kind: 'attempt.status',
              attemptId,
              status,
              ...(status === 'SUBMITTED' ? { externalId: `pid${a}`, dir: `attempts/${taskId}/${attemptId}`, operatorData: { host: 'h' } } : {}),
              ...(status === 'FAILED' || status === 'FAILED_INIT' ? { reason: `exit ${a}` } : {}),
            },
          ];
          if ((status === 'COMPLETED' || status === 'FAILED') && attempt.withResults) {
            changes.push({ kind: 'attempt.results', attemptId, files: { 'out.txt': `attempts/${taskId}/${attemptId}/out.txt` }, ...(attempt.withData ? { data: { x: a } } : {}) });
          }
          changes.push({ kind: 'task.status', taskId, status: taskStatusOfAttempt(status) });
          lane.push({ actor: attemptId, type: 'OPERATOR.REPORTED', changes });
        }
      });
      return lane;
    });
    const commands = iteration === 0 ? plan.commands.map((c): Step[] => [
      {
        actor: 'run',
        type: `CMD.${c.verb.toUpperCase()}`,
        changes: [
          c.accepted
            ? { kind: 'command', verb: c.verb, accepted: true, by: 'alice' }
            : { kind: 'command', verb: c.verb, accepted: false, code: 'COMMAND_REJECTED', reason: 'not now', target: 'w0t0', by: 'bob' },
          ...(c.accepted && c.verb === 'pause' ? [{ kind: 'run.status', status: 'PAUSED' } as const] : []),
          ...(c.accepted && c.verb === 'resume' ? [{ kind: 'run.status', status: 'RUNNING' } as const] : []),
        ],
      },
    ]) : [];
    steps.push(...interleave([...lanes, ...commands], random));
  });
  if (plan.end !== null) {
    steps.push({
      actor: 'run',
      type: 'ANALYZED',
      changes: [
        { kind: 'run.status', status: plan.end, ...(plan.end === 'FAILED' ? { reason: 'tasks failed' } : {}) },
        { kind: 'run.phase', phase: plan.end === 'COMPLETED' ? 'completed' : plan.end === 'FAILED' ? 'failed' : 'cancelled' },
      ],
    });
  }
  return steps;
}

/** Appends the runs' steps, interleaved across runs, to a fresh in-memory log. */
async function buildLog(history: { runs: RunPlan[]; seed: number }): Promise<InMemoryEventLog> {
  const random = seededRandom(history.seed);
  const lanes = history.runs.map((plan, r) => runSteps(plan, random).map((step) => ({ runId: `run${r}`, step })));
  const log = new InMemoryEventLog();
  let n = 0;
  for (const { runId, step } of interleave(lanes, random)) {
    n += 1;
    const event: ValidNewEvent = {
      eventId: `ev${n}`,
      type: step.type,
      actor: step.actor,
      time: new Date(Date.UTC(2025, 0, 1) + n * 1000).toISOString(),
      payload: {},
      from: null,
      to: null,
      changes: step.changes,
    };
    await log.appendNext(runId, event);
  }
  return log;
}

let tmp: ReturnType<typeof tempDir>;
let files = 0;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

function freshProjector(): Projector {
  files += 1;
  return new Projector(openDb(tmp.file(`p${files}.sqlite`)), { chunkSize: 7, rebuildChunkSize: 5 });
}

describe('projector properties', () => {
  it('applying a valid history incrementally, in random chunk sizes, gives the same tables as a full rebuild', async () => {
    await fc.assert(
      fc.asyncProperty(historyArb, fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 20 }), async (history, chunkSizes) => {
        const log = await buildLog(history);
        const rebuilt = freshProjector();
        await rebuilt.rebuild(log);

        const live = freshProjector();
        let i = 0;
        for (let c = 0; i < log.events.length; c++) {
          const size = chunkSizes[c % chunkSizes.length]!;
          live.apply(log.events.slice(i, i + size), { globalOrder: true });
          i += size;
        }
        expect(dumpTables(live.db)).toEqual(dumpTables(rebuilt.db));
        rebuilt.db.close();
        live.db.close();
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('applying the same events a second time changes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(historyArb, fc.nat(), async (history, cut) => {
        const log = await buildLog(history);
        const projector = freshProjector();
        await projector.catchUp(log);
        const once = dumpTables(projector.db);
        // A replay of everything, and of an arbitrary suffix per run, are both no-ops.
        expect(projector.apply(log.events).applied).toBe(0);
        projector.apply(log.events.slice(cut % (log.events.length + 1)));
        expect(await projector.catchUp(log)).toEqual({ applied: 0, skipped: 0 });
        expect(dumpTables(projector.db)).toEqual(once);
        projector.db.close();
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('catching up a log that grows in steps gives the same tables as one catch-up at the end', async () => {
    await fc.assert(
      fc.asyncProperty(historyArb, fc.nat(), async (history, cut) => {
        const full = await buildLog(history);
        const growing = new InMemoryEventLog();
        const stepwise = freshProjector();
        const split = cut % (full.events.length + 1);
        for (const [part, events] of [full.events.slice(0, split), full.events.slice(split)].entries()) {
          for (const event of events) await growing.appendNext(event.runId, event);
          await stepwise.catchUp(growing);
          if (part === 0) expect(stepwise.position()).toBe(split);
        }
        const once = freshProjector();
        await once.catchUp(full);
        expect(dumpTables(stepwise.db)).toEqual(dumpTables(once.db));
        stepwise.db.close();
        once.db.close();
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
