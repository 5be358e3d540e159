import fs from 'node:fs';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { requestCommand, requestInit } from '../distributed/command-client.ts';
import { CLI_HOLDER_PREFIX, RunLeases } from '../distributed/run-leases.ts';
import { runWorker, type WorkerHandle } from '../distributed/worker.ts';
import { initializeRun } from '../host/run-lifecycle.ts';
import { stepRun } from '../host/drive-run.ts';
import { RunStore } from '../host/run-store.ts';
import type { CommandReplyMessage } from '../events/command-messages.ts';
import type { StoredEvent } from '../events/envelope.ts';
import { JetStreamEventLog } from '../storage/jetstream-event-log.ts';
import { runCli } from './harness/cli.ts';
import { startNatsServer, type NatsServerHandle } from '../harness/nats-server.ts';
import { makeWorkspace } from './nats-fixtures/workspace.ts';

// A gate takes exactly one decision over NATS: a real nats-server, a worker, concurrent approve /
// reject requests. Two paths: a run the worker hosts (commands queue per run), and a run no host
// drives (its lease held by a `loop --nats` that is not looping here), whose commands the worker
// appends through a command-only host — concurrent appends there meet a version conflict and decide again.
const GATES = 20;
const GATES_CAMPAIGN = `
export function plan(state) {
  if (state !== null) return null;
  return { tasks: Array.from({ length: ${GATES} }, (_, i) => ({ id: 'g' + i, kind: 'gate', allowFailure: true })) };
}
export function analyze() { return { done: true }; }
`;

let server: NatsServerHandle;
let root: string;
let worker: WorkerHandle;
let scientist: NatsConnection;
let orchestrator: NatsConnection;
let log: JetStreamEventLog;
/** Holds leases as a `loop --nats` would: the worker then appends commands without hosting the run. */
let loopHolder: RunLeases;

beforeAll(async () => {
  server = await startNatsServer();
  root = makeWorkspace(GATES_CAMPAIGN, 'ms-nats-gate-');
  orchestrator = await connect({ servers: server.url, ...server.users.orchestrator });
  // Created before the worker's, so the bucket's TTL outlives the test without renewals.
  loopHolder = await RunLeases.open(orchestrator, { workerId: `${CLI_HOLDER_PREFIX}test`, ttlMs: 120_000 });
  worker = await runWorker({ natsUrl: server.url, ...server.users.orchestrator, root, leaseTtlMs: 3000, operators: { pollIntervalMs: 100 } });
  scientist = await connect({ servers: server.url, ...server.users.scientist });
  log = await JetStreamEventLog.connect({ servers: server.url, ...server.users.orchestrator });
}, 30_000);
afterAll(async () => {
  await scientist?.close();
  await log?.close();
  await worker?.stop();
  await orchestrator?.close();
  await server?.stop();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

interface StatusView {
  status: string;
  tasks: { id: string; status: string }[];
}
async function statusOf(runId: string): Promise<StatusView | undefined> {
  const reply = await requestCommand(scientist, runId, 'status');
  return reply.accepted ? (reply.status as unknown as StatusView) : undefined;
}

async function records(runId: string): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for await (const record of log.readRun(runId)) out.push(record);
  return out;
}

const VERB = { approve: 'approved', reject: 'rejected' } as const;
// Sent as the NATS user "scientist": the first decision is named with its principal ("alice (as scientist)").
const BY = { approve: 'alice', reject: 'bob' } as const;

/** Each gate gets an approve (by alice) and a reject (by bob) at once; the order of sending alternates. */
async function decideConcurrently(runId: string, gates: number[]): Promise<Map<string, 'approve' | 'reject'>> {
  const pairs = await Promise.all(
    gates.map(async (i) => {
      const verbs = i % 2 === 0 ? (['approve', 'reject'] as const) : (['reject', 'approve'] as const);
      const replies = await Promise.all(verbs.map((verb) => requestCommand(scientist, runId, verb, { taskId: `g${i}`, by: BY[verb] })));
      return { gate: `g${i}`, verbs, replies };
    }),
  );
  const accepted = new Map<string, 'approve' | 'reject'>();
  for (const { gate, verbs, replies } of pairs) {
    const winners = verbs.filter((_, k) => replies[k]?.accepted);
    expect(winners, `${gate}: ${JSON.stringify(replies)}`).toHaveLength(1);
    const winner = winners[0] as 'approve' | 'reject';
    const loser = replies[verbs.indexOf(winner) === 0 ? 1 : 0] as CommandReplyMessage;
    expect(loser).toEqual({
      accepted: false,
      error: { code: 'GATE_ALREADY_DECIDED', message: `gate ${gate} was already ${VERB[winner]} by ${BY[winner]} (as scientist) (attempt ${gate}-a1)` },
    });
    accepted.set(gate, winner);
  }
  return accepted;
}

/** The run's log agrees: per gate, one accepted and one GATE_ALREADY_DECIDED command, and only the accepted decision reached the attempt. */
function expectLogAgrees(log: StoredEvent[], accepted: Map<string, 'approve' | 'reject'>): void {
  for (const [gate, winner] of accepted) {
    const outcomes = log
      .filter((r) => r.actor === 'run' && r.type.startsWith('CMD.'))
      .flatMap((r) => r.changes)
      .filter((c) => c.kind === 'command' && c.target === gate);
    expect(outcomes.filter((c) => c.kind === 'command' && c.accepted)).toEqual([expect.objectContaining({ verb: winner })]);
    expect(outcomes.filter((c) => c.kind === 'command' && !c.accepted)).toEqual([expect.objectContaining({ code: 'GATE_ALREADY_DECIDED' })]);
    const decisions = log.filter((r) => r.actor === `${gate}-a1` && (r.type === 'ATTEMPT.APPROVE' || r.type === 'ATTEMPT.REJECT'));
    expect(decisions.map((r) => r.type)).toEqual([winner === 'approve' ? 'ATTEMPT.APPROVE' : 'ATTEMPT.REJECT']);
  }
}

/** The run follows the accepted decisions: approved gates COMPLETED, rejected ones FAILED. */
function expectFollowed(view: StatusView, accepted: Map<string, 'approve' | 'reject'>): void {
  for (const [gate, winner] of accepted) {
    expect(view.tasks.find((t) => t.id === gate)?.status, gate).toBe(winner === 'approve' ? 'COMPLETED' : 'FAILED');
  }
}

const allGates = Array.from({ length: GATES }, (_, i) => i);

describe('a gate takes exactly one decision over NATS', () => {
  it(`a run hosted by the worker: ${GATES} concurrent approve/reject pairs accept exactly one of each`, async () => {
    expect(await requestInit(scientist, { workspace: 'lab', runId: 'hosted', maxConcurrent: GATES })).toMatchObject({ accepted: true });
    await vi.waitFor(async () => expect((await statusOf('hosted'))?.tasks.map((t) => t.status)).toEqual(Array(GATES).fill('WAITING_EXTERNAL')), { timeout: 20_000, interval: 100 });
    const accepted = await decideConcurrently('hosted', allGates);
    const done = await vi.waitFor(async () => {
      const view = await statusOf('hosted');
      if (view?.status !== 'COMPLETED') throw new Error(`the run is ${view?.status}, not COMPLETED yet`);
      return view;
    }, { timeout: 20_000, interval: 100 });
    expectFollowed(done, accepted);
    expectLogAgrees(await records('hosted'), accepted);
  });

  it('a run no host drives: the CLI gets GATE_ALREADY_DECIDED for a second decision, concurrent pairs accept one each, the run follows', async () => {
    const runId = 'unhosted';
    expect(await loopHolder.acquire(runId)).toBe(true);
    const { user, pass } = server.users.orchestrator;
    const store = await RunStore.open({ root, natsUrl: server.url, natsUser: user, natsPass: pass });
    try {
      const handle = await initializeRun({ store, workspace: 'lab', runId, maxConcurrent: GATES });
      await stepRun(handle); // every gate now waits for a human; nothing hosts the run from here on
      const cli = (args: string[]) =>
        runCli(args, { root, env: { MATTERSTACK_NATS_URL: server.url, MATTERSTACK_NATS_USER: server.users.scientist.user, MATTERSTACK_NATS_PASS: server.users.scientist.pass } });
      const sequential = [
        ['g0', 'approve', 'reject'],
        ['g1', 'reject', 'approve'],
        ['g2', 'approve', 'approve'],
      ] as const;
      const accepted = new Map<string, 'approve' | 'reject'>();
      await Promise.all(
        sequential.map(async ([gate, first, second]) => {
          const one = await cli([first, runId, gate, '--by', BY[first]]);
          expect(one.code, one.stderr).toBe(0);
          const two = await cli([second, runId, gate, '--by', 'carol']);
          expect(two.code).toBe(4);
          expect(two.stderr).toBe(
            `error: ${second} rejected for run ${runId}: gate ${gate} was already ${VERB[first]} by ${BY[first]} (as scientist) (attempt ${gate}-a1) [GATE_ALREADY_DECIDED]\n`,
          );
          accepted.set(gate, first);
        }),
      );
      for (const [gate, winner] of await decideConcurrently(runId, allGates.slice(sequential.length))) accepted.set(gate, winner);
      // Nothing collected the decisions yet: the next drive does, and follows the accepted ones.
      expect((await statusOf(runId))?.tasks.every((t) => t.status === 'WAITING_EXTERNAL')).toBe(true);
      expect(await stepRun(handle)).toBe('COMPLETED');
      expectFollowed((await statusOf(runId)) as StatusView, accepted);
      expectLogAgrees(await records(runId), accepted);
    } finally {
      await store.close();
      await loopHolder.release(runId);
    }
  });
});
