import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli, type CliResult, type RunningCli } from './harness/cli.ts';
import { startNatsServer, type NatsServerHandle } from './harness/nats-server.ts';
import { makeWorkspace } from './nats-fixtures/workspace.ts';

// Gate decision data over NATS: a real nats-server, a `matterstack worker` process hosting the run,
// the CLI binary as the scientist. The worker's machine refuses data that breaks the gate's
// inputSchema (naming the field), takes a matching approve, and analyze gets the data; status over
// NATS carries the campaign state whole.
const CAMPAIGN = `
export function plan(state) {
  if (state !== null) return null;
  return { tasks: [{ id: 'gate', kind: 'gate', inputSchema: { type: 'object', properties: { batch: { type: 'string' } }, required: ['batch'] } }] };
}
export function analyze(state, results) { return { received: results.gate, pad: 'p'.repeat(500) }; }
`;

let server: NatsServerHandle;
let root: string;
let worker: RunningCli;

function scientist(args: string[]): Promise<CliResult> {
  const { user, pass } = server.users.scientist;
  return runCli(args, { root, env: { MATTERSTACK_NATS_URL: server.url, MATTERSTACK_NATS_USER: user, MATTERSTACK_NATS_PASS: pass } });
}

async function waitFor<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; worker stderr:\n${worker.output().stderr}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface StatusJson {
  status: string;
  tasks: { id: string; status: string }[];
  campaignState: { iteration: number; state: unknown } | null;
}

beforeAll(async () => {
  server = await startNatsServer();
  root = makeWorkspace(CAMPAIGN, 'ms-cli-nats-gate-data-');
  const { orchestrator } = server.users;
  const url = server.url.replace('nats://', `nats://${orchestrator.user}:${orchestrator.pass}@`);
  worker = startCli(['worker', '--nats', url, '--id', 'gd_w1', '--lease-ttl-ms', '3000', '--poll-ms', '100'], { root });
  await waitFor(async () => {
    if (worker.child.exitCode !== null) throw new Error(`worker exited ${worker.child.exitCode}: ${worker.output().stderr}`);
    return worker.output().stdout.includes('ready gd_w1') ? true : undefined;
  }, 'the worker to be ready');
}, 30_000);

afterAll(async () => {
  if (worker && worker.child.exitCode === null) {
    worker.child.kill('SIGTERM');
    await worker.done;
  }
  await server?.stop();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

describe('gate decision data over NATS (real nats-server, worker process, CLI binary)', () => {
  it('an approve whose data breaks the inputSchema is refused naming the field; a matching one reaches analyze', async () => {
    expect((await scientist(['init', 'lab', '--run-id', 'n1'])).code).toBe(0);
    const waiting = await waitFor(async () => {
      const status = (await scientist(['status', 'n1', '--json'])).json<StatusJson>();
      return status.tasks.find((t) => t.id === 'gate')?.status === 'WAITING_EXTERNAL' ? status : undefined;
    }, 'the gate');
    expect(waiting.campaignState).toMatchObject({ iteration: 0, state: null });

    const bad = await scientist(['approve', 'n1', 'gate', '--by', 'alice', '--data', '{"batch": 7}']);
    expect(bad.code).toBe(4);
    expect(bad.stderr).toMatch(/^error: approve rejected for run n1: data\.batch: .* \(inputSchema of gate gate\) \[GATE_DATA_INVALID\]\n$/);
    const still = (await scientist(['status', 'n1', '--json'])).json<StatusJson>();
    expect(still.tasks.find((t) => t.id === 'gate')?.status).toBe('WAITING_EXTERNAL');

    const ok = await scientist(['approve', 'n1', 'gate', '--by', 'alice', '--comment', 'go', '--data', '{"batch": "B7"}']);
    expect(ok.code, ok.stderr).toBe(0);
    const done = await waitFor(async () => {
      const status = (await scientist(['status', 'n1', '--json'])).json<StatusJson>();
      return status.status === 'COMPLETED' ? status : undefined;
    }, 'the run to complete');
    const expected = {
      received: { status: 'COMPLETED', files: {}, data: { batch: 'B7' }, decision: { verb: 'approved', by: 'alice (as scientist)', comment: 'go' } },
      pad: 'p'.repeat(500),
    };
    expect(done.campaignState).toMatchObject({ iteration: 1, state: expected });
    expect(JSON.parse((await scientist(['status', 'n1', '--state'])).stdout)).toEqual(expected);
  });
});
