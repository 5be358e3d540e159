import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli, type CliResult, type RunningCli } from './harness/cli.ts';
import { startNatsServer, type NatsServerHandle, type NatsUser } from './harness/nats-server.ts';
import { waitFor } from './harness/workspace.ts';
import { GATE_CAMPAIGN, makeWorkspace } from './nats-fixtures/workspace.ts';

// Who did what over NATS, and what the CLI prints about it: a real nats-server from nats.conf, a
// `matterstack worker` process, the CLI binary as scientist / viewer.
let server: NatsServerHandle;
let root: string;
let worker: RunningCli;

function cliAs(who: NatsUser, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runCli(args, { root, env: { MATTERSTACK_NATS_URL: server.url, MATTERSTACK_NATS_USER: who.user, MATTERSTACK_NATS_PASS: who.pass, ...env } });
}

beforeAll(async () => {
  server = await startNatsServer();
  root = makeWorkspace(GATE_CAMPAIGN, 'ms-cli-audit-');
  const { orchestrator } = server.users;
  worker = startCli(['worker', '--id', 'audit_w1', '--poll-ms', '100'], {
    root,
    env: { MATTERSTACK_NATS_URL: server.url, MATTERSTACK_NATS_USER: orchestrator.user, MATTERSTACK_NATS_PASS: orchestrator.pass },
  });
  await waitFor(() => {
    if (worker.child.exitCode !== null) throw new Error(`worker exited ${worker.child.exitCode}: ${worker.output().stderr}`);
    return worker.output().stdout.includes('ready audit_w1');
  }, 30_000, 'the worker to be ready');
}, 40_000);

afterAll(async () => {
  if (worker && worker.child.exitCode === null) {
    worker.child.kill('SIGTERM');
    await worker.done;
  }
  await server?.stop();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

describe('the CLI over NATS: passwords and permissions (real nats-server, worker process, CLI binary)', () => {
  it('no password is printed: init with user:pass in the URL hints a command with --user, status hints too', async () => {
    const { scientist } = server.users;
    const url = server.url.replace('nats://', `nats://${scientist.user}:${scientist.pass}@`);
    const init = await runCli(['init', 'lab', '--run-id', 'secret1', '--nats', url], { root, env: { MATTERSTACK_NATS_PASS: scientist.pass } });
    expect(init.code, init.stderr).toBe(0);
    expect(init.stderr).toBe(`created run secret1 of lab; the worker runs it; watch it with matterstack --nats ${server.url} --user scientist status secret1\n`);
    await waitFor(async () => (await cliAs(scientist, ['status', 'secret1', '--json'])).json<{ gates: unknown[] }>().gates.length > 0, 30_000, 'the gate');
    const status = await runCli(['status', 'secret1', '--nats', url], { root });
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain(`approve: matterstack --nats ${server.url} --user scientist approve secret1 gate`);
    for (const text of [init.stdout, init.stderr, status.stdout, status.stderr]) expect(text).not.toContain(scientist.pass);
  });

  it('a viewer\'s read of the event log says which permission it lacks: one line, exit 4', async () => {
    const replay = await cliAs(server.users.viewer, ['replay', 'secret1']);
    expect(replay.code).toBe(4);
    expect(replay.stderr).toBe('error: NATS user "viewer" is not allowed to read the runs\' event log (publish on $JS.API.INFO refused by the server\'s permissions)\n');
  });
});
