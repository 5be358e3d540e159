import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli, type CliResult, type RunningCli } from './harness/cli.ts';
import { startNatsServer, type NatsServerHandle, type NatsUser } from './harness/nats-server.ts';
import { GATE_CAMPAIGN, makeWorkspace } from './nats-fixtures/workspace.ts';

// The NATS path of the CLI, end to end: a real nats-server from nats.conf, a worker started as
// `matterstack worker` (orchestrator credentials), and the CLI binary as the scientist / viewer.
let server: NatsServerHandle;
let natsRoot: string;
let embeddedRoot: string;
let worker: RunningCli;

interface StatusJson {
  runId: string;
  status: string;
  tasks: { id: string; status: string }[];
  gates: { taskId: string }[];
}

/** The CLI as `who`, credentials from the environment, NATS URL from MATTERSTACK_NATS_URL. */
function cliAs(who: NatsUser, args: string[]): Promise<CliResult> {
  return runCli(args, { root: natsRoot, env: { MATTERSTACK_NATS_URL: server.url, MATTERSTACK_NATS_USER: who.user, MATTERSTACK_NATS_PASS: who.pass } });
}
const scientist = (args: string[]): Promise<CliResult> => cliAs(server.users.scientist, args);
const embedded = (args: string[]): Promise<CliResult> => runCli(args, { root: embeddedRoot });

async function waitFor<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; worker stderr:\n${worker.output().stderr}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function statusOf(runId: string): Promise<StatusJson> {
  const result = await scientist(['status', runId, '--json']);
  expect(result.code, result.stderr).toBe(0);
  return result.json<StatusJson>();
}

beforeAll(async () => {
  server = await startNatsServer();
  natsRoot = makeWorkspace(GATE_CAMPAIGN, 'ms-cli-nats-');
  embeddedRoot = makeWorkspace(GATE_CAMPAIGN, 'ms-cli-emb-');
  const { orchestrator } = server.users;
  // URL credentials (user:pass@host) are one of the two ways; the scientist below uses env vars.
  const url = server.url.replace('nats://', `nats://${orchestrator.user}:${orchestrator.pass}@`);
  worker = startCli(['worker', '--nats', url, '--id', 'cli_w1', '--lease-ttl-ms', '3000', '--poll-ms', '100'], { root: natsRoot });
  await waitFor(async () => {
    if (worker.child.exitCode !== null) throw new Error(`worker exited ${worker.child.exitCode}: ${worker.output().stderr}`);
    return worker.output().stdout.includes('ready cli_w1') ? true : undefined;
  }, 'the worker to be ready');
}, 30_000);

afterAll(async () => {
  if (worker && worker.child.exitCode === null) {
    worker.child.kill('SIGTERM');
    await worker.done;
  }
  await server?.stop();
  for (const root of [natsRoot, embeddedRoot]) if (root) fs.rmSync(root, { recursive: true, force: true });
});

describe('matterstack CLI over NATS (real nats-server, worker process, CLI binary)', () => {
  it('init through a worker, the gate shows in status --json, approve completes the run', async () => {
    const init = await scientist(['init', 'lab', '--run-id', 'g1']);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toBe('g1\n');

    const waiting = await waitFor(async () => {
      const status = await statusOf('g1');
      return status.gates.some((g) => g.taskId === 'gate') ? status : undefined;
    }, 'the gate');
    expect(waiting.tasks.find((t) => t.id === 'gate')?.status).toBe('WAITING_EXTERNAL');

    const approve = await scientist(['approve', 'g1', 'gate', '--comment', 'fine', '--json']);
    expect(approve.code, approve.stderr).toBe(0);
    expect(approve.json()).toEqual({ accepted: true, seq: expect.any(Number) });

    const done = await waitFor(async () => {
      const status = await statusOf('g1');
      return status.status === 'COMPLETED' ? status : undefined;
    }, 'COMPLETED');
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

  it('the viewer may read status but not pause: one clear line, non-zero, nothing changes', async () => {
    const viewer = server.users.viewer;
    const status = await cliAs(viewer, ['status', 'p1', '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.json<StatusJson>().status).toBe('RUNNING');

    const pause = await cliAs(viewer, ['pause', 'p1']);
    expect(pause.code).toBe(4);
    expect(pause.stdout).toBe('');
    expect(pause.stderr).toBe('error: NATS user "viewer" is not allowed to send pause commands (publish on ms.cmd.p1.pause refused by the server\'s permissions)\n');
    expect((await statusOf('p1')).status).toBe('RUNNING');
  });

  it('bad credentials and a missing worker are one clear line each', async () => {
    const wrong = await cliAs({ user: 'scientist', pass: 'wrong' }, ['pause', 'p1']);
    expect(wrong.code).toBe(7);
    expect(wrong.stderr).toBe(`error: cannot connect to NATS at ${server.url}: the server refused the login as "scientist"\n`);

    worker.child.kill('SIGTERM');
    expect((await worker.done).code).toBe(0);
    const orphan = await scientist(['pause', 'p1']);
    expect(orphan.code).toBe(7);
    expect(orphan.stderr).toBe('error: no worker is serving ms.cmd.p1.pause — is `matterstack worker` running?\n');
  });
});
