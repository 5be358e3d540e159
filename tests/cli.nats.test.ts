import fs from 'node:fs';
import path from 'node:path';
import { Kvm, type KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RunLeases } from '../distributed/run-leases.ts';
import { runWorker } from '../distributed/worker.ts';
import { initializeRun } from '../host/run-lifecycle.ts';
import { RunStore } from '../host/run-store.ts';
import { JetStreamEventLog } from '../storage/jetstream-event-log.ts';
import { runCli, startCli, type CliResult, type RunningCli } from './harness/cli.ts';
import { startNatsServer, type NatsServerHandle } from '../harness/nats-server.ts';
import { natsCliFixture } from './nats-fixtures/cli-worker.ts';
import { GATE_CAMPAIGN, makeWorkspace } from './nats-fixtures/workspace.ts';

// The NATS path of the CLI, end to end: a real nats-server from nats.conf, a worker started as
// `matterstack worker` (orchestrator credentials), and the CLI binary as the scientist / viewer.
// The worker takes its credentials from the URL (user:pass@host); the CLI below from env vars.
const nats = natsCliFixture(GATE_CAMPAIGN, { workerId: 'cli_w1', prefix: 'ms-cli-nats-' });
let embeddedRoot: string;

interface StatusJson {
  runId: string;
  status: string;
  tasks: { id: string; status: string }[];
  gates: { taskId: string }[];
}

const cliAs = nats.as;
const scientist = nats.scientist;
const embedded = (args: string[]): Promise<CliResult> => runCli(args, { root: embeddedRoot });

async function statusOf(runId: string): Promise<StatusJson> {
  const result = await scientist(['status', runId, '--json']);
  expect(result.code, result.stderr).toBe(0);
  return result.json<StatusJson>();
}

beforeAll(() => {
  embeddedRoot = makeWorkspace(GATE_CAMPAIGN, 'ms-cli-emb-');
});

afterAll(() => {
  if (embeddedRoot) fs.rmSync(embeddedRoot, { recursive: true, force: true });
});

describe('matterstack CLI over NATS (real nats-server, worker process, CLI binary)', () => {
  it('init through a worker, the gate shows in status --json, approve completes the run', async () => {
    const init = await scientist(['init', 'lab', '--run-id', 'g1']);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toBe('g1\n');

    const waiting = await vi.waitFor(async () => {
      const status = await statusOf('g1');
      expect(status.gates.map((g) => g.taskId), nats.worker.output().stderr).toContain('gate');
      return status;
    }, { timeout: 15_000, interval: 200 });
    expect(waiting.tasks.find((t) => t.id === 'gate')?.status).toBe('WAITING_EXTERNAL');

    const approve = await scientist(['approve', 'g1', 'gate', '--comment', 'fine', '--json']);
    expect(approve.code, approve.stderr).toBe(0);
    expect(approve.json()).toEqual({ accepted: true, seq: expect.any(Number) });

    const done = await vi.waitFor(async () => {
      const status = await statusOf('g1');
      expect(status.status, nats.worker.output().stderr).toBe('COMPLETED');
      return status;
    }, { timeout: 15_000, interval: 200 });
    expect(done.tasks.map((t) => t.status)).toEqual(['COMPLETED', 'COMPLETED']);

    // Creating it again is refused as on the embedded path.
    const again = await scientist(['init', 'lab', '--run-id', 'g1']);
    expect(again.code).toBe(4);
    expect(again.stderr).toMatch(/^error: .*g1.* already exists\n$/);
  });

  it('a second pause is rejected with the same line, JSON and exit code as on the embedded path', async () => {
    expect((await scientist(['init', 'lab', '--run-id', 'p1'])).code).toBe(0);
    expect((await embedded(['init', 'lab', '--run-id', 'p1'])).code).toBe(0);

    const first = await scientist(['pause', 'p1']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^accepted \(seq \d+\)\n$/);
    expect((await embedded(['pause', 'p1'])).stdout).toMatch(/^accepted \(seq \d+\)\n$/);

    const [natsTwice, embeddedTwice] = await Promise.all([scientist(['pause', 'p1']), embedded(['pause', 'p1'])]);
    expect(natsTwice.stderr).toBe('error: pause rejected for run p1: the run is already paused [ALREADY_PAUSED]\n');
    expect({ code: natsTwice.code, stdout: natsTwice.stdout, stderr: natsTwice.stderr }).toEqual({ code: embeddedTwice.code, stdout: embeddedTwice.stdout, stderr: embeddedTwice.stderr });
    expect(natsTwice.code).toBe(4);

    const [natsJson, embeddedJson] = await Promise.all([scientist(['pause', 'p1', '--json']), embedded(['pause', 'p1', '--json'])]);
    expect(natsJson.json()).toEqual(embeddedJson.json());
    expect(natsJson.json()).toEqual({ error: { code: 'ALREADY_PAUSED', message: 'pause rejected for run p1: the run is already paused' } });
    expect(natsJson.code).toBe(embeddedJson.code);

    expect((await scientist(['resume', 'p1'])).code).toBe(0);
    expect((await statusOf('p1')).status).toBe('RUNNING');
  });

  it('an unknown run is RUN_NOT_FOUND (exit 3) on both paths', async () => {
    const [viaNats, viaEmbedded] = await Promise.all([scientist(['pause', 'nope']), embedded(['pause', 'nope'])]);
    expect(viaNats.code).toBe(3);
    expect(viaNats.stderr).toBe('error: run nope not found\n');
    expect(viaNats.stderr).toBe(viaEmbedded.stderr);
    expect(viaNats.code).toBe(viaEmbedded.code);
    const json = await scientist(['status', 'nope', '--json']);
    expect(json.code).toBe(3);
    expect(json.json()).toEqual({ error: { code: 'RUN_NOT_FOUND', message: 'run nope not found' } });
  });

  it('init refuses a run id whose folder exists in the worker\'s root: RUN_EXISTS naming the folder, exit 4, no run created', async () => {
    const runDir = path.join(nats.root, 'lab', 'runs', 'stale1');
    fs.mkdirSync(path.join(runDir, 'attempts'), { recursive: true });
    const init = await scientist(['init', 'lab', '--run-id', 'stale1']);
    expect(init.code).toBe(4);
    expect(init.stderr).toMatch(/^error: [^\n]+\n$/);
    expect(init.stderr).toContain(`run stale1: its folder ${runDir} already exists`);
    expect((await scientist(['status', 'stale1'])).code).toBe(3);
  });

  it('the viewer may read status but not pause: one clear line, non-zero, nothing changes', async () => {
    const viewer = nats.server.users.viewer;
    const status = await cliAs(viewer, ['status', 'p1', '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.json<StatusJson>().status).toBe('RUNNING');

    const pause = await cliAs(viewer, ['pause', 'p1']);
    expect(pause.code).toBe(4);
    expect(pause.stdout).toBe('');
    expect(pause.stderr).toBe('error: NATS user "viewer" is not allowed to send pause commands (publish on ms.as.viewer.cmd.p1.pause refused by the server\'s permissions)\n');
    expect((await statusOf('p1')).status).toBe('RUNNING');
  });

  it('bad credentials and a missing worker are one clear line each', async () => {
    const wrong = await cliAs({ user: 'scientist', pass: 'wrong' }, ['pause', 'p1']);
    expect(wrong.code).toBe(7);
    expect(wrong.stderr).toBe(`error: cannot connect to NATS at ${nats.server.url}: the server refused the login as "scientist"\n`);

    nats.worker.child.kill('SIGTERM');
    expect((await nats.worker.done).code).toBe(0);
    const orphan = await scientist(['pause', 'p1']);
    expect(orphan.code).toBe(7);
    expect(orphan.stderr).toBe('error: no worker is serving ms.as.scientist.cmd.p1.pause — is `matterstack worker` running?\n');
  });
});

/** One task that finishes at once: loop completes the run in a second or two. */
const QUICK_CAMPAIGN = `
export function plan(state) {
  if (state !== null) return null;
  return { tasks: [{ id: 'hello', command: 'echo hi > out.txt' }] };
}
export function analyze() { return { done: true }; }
`;

/** Short, so that the CLI renews (a third of it) several times a second and the tests stay quick. */
const BUCKET_TTL_MS = 3000;

/** A private server and root for `loop --nats`, with no worker: the test plays the other lease holders. */
interface LoopFixture {
  server: NatsServerHandle;
  root: string;
  nc: NatsConnection;
  kv: KV;
  log: JetStreamEventLog;
  /** Holds leases as a worker would. */
  other: RunLeases;
  /** Creates run `runId` of workspace `lab` (gate) or `quick` straight on the log, as the orchestrator. */
  createRun(runId: string, workspace: 'lab' | 'quick'): Promise<void>;
  /** Starts the CLI as the orchestrator (loop appends events itself); killed by `close` if still running. */
  start(args: string[]): RunningCli;
  /** Who holds the lease of `runId`, and at which revision. */
  lease(runId: string): Promise<{ holder: string; revision: number } | undefined>;
  close(): Promise<void>;
}

async function loopFixture(): Promise<LoopFixture> {
  const server = await startNatsServer();
  const root = makeWorkspace(GATE_CAMPAIGN, 'ms-cli-loop-');
  fs.mkdirSync(path.join(root, 'quick'));
  fs.writeFileSync(path.join(root, 'quick', 'campaign.mjs'), QUICK_CAMPAIGN);
  const { orchestrator } = server.users;
  const nc = await connect({ servers: server.url, ...orchestrator });
  // Created here first, so its TTL is ours whatever the CLI would have chosen.
  const other = await RunLeases.open(nc, { workerId: 'test_holder', ttlMs: BUCKET_TTL_MS });
  const kv = await new Kvm(nc).open('MS_LEASES');
  const log = await JetStreamEventLog.connect({ servers: server.url, ...orchestrator });
  const started: RunningCli[] = [];
  return {
    server,
    root,
    nc,
    kv,
    log,
    other,
    async createRun(runId, workspace) {
      const store = await RunStore.open({ root, natsUrl: server.url, natsUser: orchestrator.user, natsPass: orchestrator.pass });
      try {
        await initializeRun({ store, workspace, runId });
      } finally {
        await store.close();
      }
    },
    start(args) {
      const cli = startCli(args, { root, env: { MATTERSTACK_NATS_URL: server.url, MATTERSTACK_NATS_USER: orchestrator.user, MATTERSTACK_NATS_PASS: orchestrator.pass } });
      started.push(cli);
      return cli;
    },
    async lease(runId) {
      const entry = await kv.get(runId);
      if (entry === null || entry.operation !== 'PUT') return undefined;
      return { holder: entry.json<{ workerId: string }>().workerId, revision: entry.revision };
    },
    async close() {
      // A failed test may leave a loop waiting at a gate.
      for (const cli of started) if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
      await Promise.all(started.map((cli) => cli.done));
      await log.close();
      await nc.close();
      await server.stop();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

/** How long the loop tests wait for the CLI or the lease bucket to get somewhere. */
const UNTIL = { timeout: 10_000, interval: 50 };

/** Waits for the CLI to exit; kills it (and fails) if it does not within `timeoutMs`. */
async function exitOf(cli: RunningCli, timeoutMs = 15_000): Promise<CliResult> {
  const timer = setTimeout(() => cli.child.kill('SIGKILL'), timeoutMs);
  try {
    return await cli.done;
  } finally {
    clearTimeout(timer);
  }
}

/** A LoopFixture for the enclosing describe block (its own server: runs left active by one block never reach another). */
function useLoopFixture(): LoopFixture {
  const fixture = {} as LoopFixture;
  beforeAll(async () => {
    Object.assign(fixture, await loopFixture());
  }, 30_000);
  afterAll(async () => {
    await fixture.close?.();
  });
  return fixture;
}

describe('loop --nats holds the run lease the workers use', () => {
  const f = useLoopFixture();

  it('refuses a run whose lease another holder has: names the holder, exits 4, appends nothing', async () => {
    await f.createRun('held1', 'quick');
    expect(await f.other.acquire('held1')).toBe(true);
    const before = await f.log.lastSeq('held1');

    const result = await exitOf(f.start(['loop', 'held1']));
    expect(result.stderr).toBe(
      'error: run held1 is hosted by worker test_holder, which drives it already: send it commands instead (e.g. "matterstack pause held1 --nats …"), or stop that worker and loop again\n',
    );
    expect(result.code).toBe(4);
    expect(await f.log.lastSeq('held1')).toBe(before);
    expect((await f.lease('held1'))?.holder).toBe('test_holder');
    await f.other.release('held1');
  });

  it('refuses a user without the orchestrator permissions before appending anything: one clear line, exit 4', async () => {
    await f.createRun('sci1', 'quick');
    const before = await f.log.lastSeq('sci1');
    const { scientist } = f.server.users;
    const result = await runCli(['loop', 'sci1'], { root: f.root, env: { MATTERSTACK_NATS_URL: f.server.url, MATTERSTACK_NATS_USER: scientist.user, MATTERSTACK_NATS_PASS: scientist.pass } });
    expect(result.stderr).toBe(
      'error: NATS user "scientist" is not allowed to use the run leases (KV bucket MS_LEASES): loop --nats drives runs itself, which takes the orchestrator\'s permissions; send commands to a worker instead\n',
    );
    expect(result.code).toBe(4);
    expect(await f.log.lastSeq('sci1')).toBe(before);
  });

  it('completes a free run, then leaves its lease free', async () => {
    await f.createRun('free1', 'quick');
    const result = await exitOf(f.start(['loop', 'free1', '--json']));
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim().split('\n').at(-1)).toBe(JSON.stringify({ event: 'end', runs: [{ runId: 'free1', status: 'COMPLETED' }], exitCode: 0 }));
    expect(await f.lease('free1')).toBeUndefined();
    expect(await f.other.owner('free1')).toBeUndefined();
  });

  it('holds the lease as the CLI while it drives, renews it within the bucket TTL, and Ctrl-C releases it', async () => {
    await f.createRun('gate1', 'lab');
    const cli = f.start(['loop', 'gate1', '--json']);
    const first = await vi.waitFor(async () => {
      const lease = await f.lease('gate1');
      if (lease === undefined) throw new Error('the CLI has not taken the lease');
      return lease;
    }, UNTIL);
    expect(first.holder).toMatch(new RegExp(`^cli:[A-Za-z0-9_-]+:${cli.child.pid}$`));
    // Two renewals while the run waits at its gate, never a moment without the CLI's lease (a
    // renewal slower than the 3 s TTL would let the entry expire).
    const holders = new Set<string | undefined>();
    await vi.waitFor(async () => {
      const now = await f.lease('gate1');
      holders.add(now?.holder);
      expect(now?.revision).toBeGreaterThanOrEqual(first.revision + 2);
    }, UNTIL);
    expect([...holders], cli.output().stderr).toEqual([first.holder]);
    expect(await f.log.lastSeq('gate1')).toBeGreaterThan(2);

    cli.child.kill('SIGINT');
    const result = await exitOf(cli);
    expect(result.code, result.stderr).toBe(130);
    expect(await f.lease('gate1')).toBeUndefined();
  });

  it('commands sent while it drives reach the run through a worker, which appends them for the loop (pause, resume, approve)', async () => {
    await f.createRun('gate3', 'lab');
    const cli = f.start(['loop', 'gate3', '--json']);
    await vi.waitFor(async () => expect((await f.lease('gate3'))?.holder).toMatch(/^cli:/), UNTIL);
    const { orchestrator, scientist } = f.server.users;
    const worker = await runWorker({ natsUrl: f.server.url, ...orchestrator, root: f.root, workerId: 'w_cmd', leaseTtlMs: BUCKET_TTL_MS });
    const asScientist = (args: string[]): Promise<CliResult> =>
      runCli(args, { root: f.root, env: { MATTERSTACK_NATS_URL: f.server.url, MATTERSTACK_NATS_USER: scientist.user, MATTERSTACK_NATS_PASS: scientist.pass } });
    const status = async (): Promise<{ status: string; gates: { taskId: string }[] }> => {
      const result = await asScientist(['status', 'gate3', '--json']);
      expect(result.code, result.stderr).toBe(0);
      return result.json();
    };
    try {
      await vi.waitFor(async () => expect((await status()).gates).not.toEqual([]), UNTIL);
      for (const [verb, expected] of [['pause', 'PAUSED'], ['resume', 'RUNNING']] as const) {
        const reply = await asScientist([verb, 'gate3']);
        expect(reply.code, reply.stderr).toBe(0);
        await vi.waitFor(async () => expect((await status()).status).toBe(expected), UNTIL);
      }
      const approve = await asScientist(['approve', 'gate3', 'gate']);
      expect(approve.code, approve.stderr).toBe(0);
      const result = await exitOf(cli);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout.trim().split('\n').at(-1)).toBe(JSON.stringify({ event: 'end', runs: [{ runId: 'gate3', status: 'COMPLETED' }], exitCode: 0 }));
      expect(worker.hostedRuns()).not.toContain('gate3');
      expect(await f.lease('gate3')).toBeUndefined();
    } finally {
      await worker.stop();
    }
  }, 30_000);

  it('stops driving a run whose lease it lost, naming who holds it now', async () => {
    await f.createRun('gate2', 'lab');
    const cli = f.start(['loop', 'gate2']);
    await vi.waitFor(async () => expect((await f.lease('gate2'))?.holder).toMatch(/^cli:/), UNTIL);
    await f.kv.put('gate2', JSON.stringify({ workerId: 'thief', acquiredAt: new Date().toISOString() }));

    const result = await exitOf(cli);
    expect(result.stderr).toBe(
      'error: run gate2 lost its lease (worker thief holds it now): loop stopped driving it so that it is never driven twice; tasks already started keep running\n',
    );
    expect(result.code).toBe(4);
    expect((await f.lease('gate2'))?.holder).toBe('thief');
  });
});

describe('loop --nats without a run id', () => {
  const f = useLoopFixture();

  it('skips a run a worker hosts with a note line and drives the others to the end', async () => {
    await f.createRun('all_held', 'quick');
    await f.createRun('all_free', 'quick');
    expect(await f.other.acquire('all_held')).toBe(true);
    const before = await f.log.lastSeq('all_held');

    const result = await exitOf(f.start(['loop', '--json']));
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('note: run all_held is hosted by worker test_holder, which drives it already:');
    expect(result.stdout.trim().split('\n').at(-1)).toBe(JSON.stringify({ event: 'end', runs: [{ runId: 'all_free', status: 'COMPLETED' }], exitCode: 0 }));
    expect(await f.log.lastSeq('all_held')).toBe(before);
    expect((await f.lease('all_held'))?.holder).toBe('test_holder');
    expect(await f.lease('all_free')).toBeUndefined();
    await f.other.release('all_held');
  });
});
