import fs from 'node:fs';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_LOG_CHUNK_BYTES } from '../events/command-messages.ts';
import { runCli, startCli, type CliResult, type RunningCli } from './harness/cli.ts';
import { startNatsServer, type NatsServerHandle, type NatsUser } from './harness/nats-server.ts';
import { waitFor } from './harness/workspace.ts';
import { makeWorkspace } from './nats-fixtures/workspace.ts';

// `logs` over NATS: a real nats-server from nats.conf, a `matterstack worker` process hosting the
// run, and the CLI as the viewer, who may read logs but nothing else.
let server: NatsServerHandle;
let root: string;
let worker: RunningCli;
let watcher: NatsConnection;
const followers: RunningCli[] = [];

// ~20 MB of base64 lines, then END; waits for <workspace>/go, then one more line.
const CAMPAIGN = `
export function plan(state) {
  if (state !== null) return null;
  return { tasks: [{ id: 'big', command: 'head -c 15000000 /dev/urandom | base64 -w 76; echo END; while [ ! -e ../../../../../go ]; do sleep 0.05; done; echo after-go' }] };
}
export function analyze() { return null; }
`;

function cliAs(who: NatsUser, args: string[]): Promise<CliResult> {
  return runCli(args, { root, env: { MATTERSTACK_NATS_URL: server.url, MATTERSTACK_NATS_USER: who.user, MATTERSTACK_NATS_PASS: who.pass } });
}

beforeAll(async () => {
  server = await startNatsServer();
  root = makeWorkspace(CAMPAIGN, 'ms-logs-nats-');
  const { orchestrator } = server.users;
  const url = server.url.replace('nats://', `nats://${orchestrator.user}:${orchestrator.pass}@`);
  worker = startCli(['worker', '--nats', url, '--id', 'lw1', '--lease-ttl-ms', '3000', '--poll-ms', '100'], { root });
  await waitFor(() => {
    if (worker.child.exitCode !== null) throw new Error(`worker exited ${worker.child.exitCode}: ${worker.output().stderr}`);
    return worker.output().stdout.includes('ready lw1');
  }, 30_000, 'the worker');
  watcher = await connect({ servers: server.url, ...orchestrator });
}, 60_000);

afterAll(async () => {
  for (const cli of [...followers, worker]) {
    if (cli && cli.child.exitCode === null) {
      cli.child.kill('SIGTERM');
      await cli.done;
    }
  }
  await watcher?.close();
  await server?.stop();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

describe('matterstack logs --nats (worker process, viewer user)', () => {
  it('streams a 20 MB log whole in pieces, follows the attempt until it ends, and explain names the worker driving the run', async () => {
    const { viewer, scientist } = server.users;
    expect((await cliAs(scientist, ['init', 'lab', '--run-id', 'n1'])).code).toBe(0);
    await waitFor(async () => (await cliAs(viewer, ['logs', 'n1', 'big', '--lines', '1'])).stdout === 'END\n', 60_000, 'the big log');

    const explain = await cliAs(scientist, ['explain', 'n1']);
    expect(explain.stdout).toContain('driven by worker lw1 (pid ');
    expect(explain.stdout).not.toContain('keep it going with `matterstack loop');
    // Without the run folder's record (another host), the run's lease names the worker, for a user who may read it.
    fs.rmSync(path.join(root, 'lab/runs/n1/.matterstack/driver.json'));
    const [byLease, noLease] = await Promise.all([cliAs(server.users.orchestrator, ['explain', 'n1']), cliAs(scientist, ['explain', 'n1'])]);
    expect(byLease.stdout).toContain("driven by worker lw1 (holds the run's lease)");
    expect(noLease.stdout).toContain('keep it going with `matterstack loop n1`');

    // Every request of the client, as the server delivers it: one per piece.
    const requests: { offset?: number; maxBytes?: number }[] = [];
    const sub = watcher.subscribe('ms.as.viewer.cmd.n1.logs', {
      callback: (_error, msg) => {
        requests.push(JSON.parse(new TextDecoder().decode(msg.data)) as { maxBytes?: number });
      },
    });
    await watcher.flush();
    const all = await cliAs(viewer, ['logs', 'n1', 'big', '--all']);
    sub.unsubscribe();
    expect(all.code, all.stderr).toBe(0);
    const onDisk = fs.readFileSync(path.join(root, 'lab/runs/n1/attempts/big/big-a1/stdout.log'), 'utf8');
    expect(onDisk.length).toBeGreaterThan(20_000_000);
    expect(all.stdout.length).toBe(onDisk.length);
    expect(all.stdout === onDisk).toBe(true);
    expect(requests.length).toBeGreaterThanOrEqual(Math.ceil(onDisk.length / MAX_LOG_CHUNK_BYTES));
    expect(requests.every((r) => r.maxBytes !== undefined && r.maxBytes <= MAX_LOG_CHUNK_BYTES)).toBe(true);

    const follow = startCli(['logs', 'n1', 'big', '-f', '--lines', '1'], { root, env: { MATTERSTACK_NATS_URL: server.url, MATTERSTACK_NATS_USER: viewer.user, MATTERSTACK_NATS_PASS: viewer.pass } });
    followers.push(follow);
    await waitFor(() => follow.output().stdout === 'END\n', 20_000, 'logs -f to print the last line');
    fs.writeFileSync(path.join(root, 'lab', 'go'), '');
    const followed = await follow.done;
    expect(followed.code, followed.stderr).toBe(0);
    expect(followed.stdout).toBe('END\nafter-go\n');

    // The viewer may not do anything else.
    const pause = await cliAs(viewer, ['pause', 'n1']);
    expect(pause.code).toBe(4);
    const missing = await cliAs(viewer, ['logs', 'n1', 'nope']);
    expect([missing.code, missing.stderr]).toEqual([3, 'error: task nope not found in run n1\n']);
  });
});
