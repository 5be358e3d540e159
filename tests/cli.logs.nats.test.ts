import fs from 'node:fs';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MAX_LOG_CHUNK_BYTES } from '../events/command-messages.ts';
import { startCli, type RunningCli } from './harness/cli.ts';
import { natsCliFixture, stopCli } from './nats-fixtures/cli-worker.ts';

// `logs` over NATS: a real nats-server from nats.conf, a `matterstack worker` process hosting the
// run, and the CLI as the viewer, who may read logs but nothing else.
// ~20 MB of base64 lines, then END; waits for <workspace>/go, then one more line.
const CAMPAIGN = `
export function plan(state) {
  if (state !== null) return null;
  return { tasks: [{ id: 'big', command: 'head -c 15000000 /dev/urandom | base64 -w 76; echo END; while [ ! -e ../../../../../go ]; do sleep 0.05; done; echo after-go' }] };
}
export function analyze() { return null; }
`;

const nats = natsCliFixture(CAMPAIGN, { workerId: 'lw1', prefix: 'ms-logs-nats-' });
const cliAs = nats.as;
let watcher: NatsConnection;
const followers: RunningCli[] = [];

beforeAll(async () => {
  watcher = await connect({ servers: nats.server.url, ...nats.server.users.orchestrator });
});

afterAll(async () => {
  for (const cli of followers) await stopCli(cli);
  await watcher?.close();
});

describe('matterstack logs --nats (worker process, viewer user)', () => {
  it('streams a 20 MB log whole in pieces, follows the attempt until it ends, and explain names the worker driving the run', async () => {
    const { viewer, scientist } = nats.server.users;
    expect((await cliAs(scientist, ['init', 'lab', '--run-id', 'n1'])).code).toBe(0);
    await vi.waitFor(async () => expect((await cliAs(viewer, ['logs', 'n1', 'big', '--lines', '1'])).stdout).toBe('END\n'), { timeout: 60_000 });

    const explain = await cliAs(scientist, ['explain', 'n1']);
    expect(explain.stdout).toContain('driven by worker lw1 (pid ');
    expect(explain.stdout).not.toContain('keep it going with `matterstack loop');
    // Without the run folder's record (another host), the run's lease names the worker, for a user who may read it.
    fs.rmSync(path.join(nats.root, 'lab/runs/n1/.matterstack/driver.json'));
    const [byLease, noLease] = await Promise.all([cliAs(nats.server.users.orchestrator, ['explain', 'n1']), cliAs(scientist, ['explain', 'n1'])]);
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
    const onDisk = fs.readFileSync(path.join(nats.root, 'lab/runs/n1/attempts/big/big-a1/stdout.log'), 'utf8');
    expect(onDisk.length).toBeGreaterThan(20_000_000);
    expect(all.stdout.length).toBe(onDisk.length);
    expect(all.stdout === onDisk).toBe(true);
    expect(requests.length).toBeGreaterThanOrEqual(Math.ceil(onDisk.length / MAX_LOG_CHUNK_BYTES));
    expect(requests.every((r) => r.maxBytes !== undefined && r.maxBytes <= MAX_LOG_CHUNK_BYTES)).toBe(true);

    const follow = startCli(['logs', 'n1', 'big', '-f', '--lines', '1'], { root: nats.root, env: { MATTERSTACK_NATS_URL: nats.server.url, MATTERSTACK_NATS_USER: viewer.user, MATTERSTACK_NATS_PASS: viewer.pass } });
    followers.push(follow);
    await vi.waitFor(() => expect(follow.output().stdout).toBe('END\n'), { timeout: 20_000 });
    fs.writeFileSync(path.join(nats.root, 'lab', 'go'), '');
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
