import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli, startCli, type CliResult, type RunningCli } from './harness/cli.ts';
import { startNatsServer, type NatsServerHandle, type NatsUser } from '../harness/nats-server.ts';
import { GATE_CAMPAIGN, makeWorkspace } from './nats-fixtures/workspace.ts';

// `list --nats` as the viewer: a worker answers ms.as.viewer.cmd.list from the log; the viewer still
// reads nothing of the stream itself and sends no command.
let server: NatsServerHandle;
let root: string;
let worker: RunningCli | undefined;

function cliAs(who: NatsUser, args: string[]): Promise<CliResult> {
  return runCli(args, { root, env: { MATTERSTACK_NATS_URL: server.url, MATTERSTACK_NATS_USER: who.user, MATTERSTACK_NATS_PASS: who.pass } });
}

interface Listed {
  runId: string;
  workspace: string;
  status: string;
}

beforeAll(async () => {
  server = await startNatsServer();
  root = makeWorkspace(GATE_CAMPAIGN, 'ms-list-nats-');
  const { orchestrator } = server.users;
  const url = server.url.replace('nats://', `nats://${orchestrator.user}:${orchestrator.pass}@`);
  const started = startCli(['worker', '--nats', url, '--id', 'list1', '--lease-ttl-ms', '3000', '--poll-ms', '100'], { root });
  worker = started;
  await vi.waitFor(() => {
    if (started.child.exitCode !== null) throw new Error(`worker exited ${started.child.exitCode}: ${started.output().stderr}`);
    expect(started.output().stdout, 'the worker is ready').toContain('ready list1');
  }, { timeout: 30_000, interval: 100 });
}, 60_000);

afterAll(async () => {
  if (worker !== undefined && worker.child.exitCode === null) {
    worker.child.kill('SIGTERM');
    await worker.done;
  }
  await server?.stop();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

describe('list --nats as the viewer', { timeout: 120_000 }, () => {
  it('lists the runs with every filter, through the worker; the viewer still may not read the stream or steer', async () => {
    const { scientist, viewer } = server.users;
    for (const runId of ['done1', 'open1']) expect((await cliAs(scientist, ['init', 'lab', '--run-id', runId])).code).toBe(0);
    await vi.waitFor(async () => expect((await cliAs(viewer, ['status', 'done1', '--json'])).stdout).toContain('"WAITING_EXTERNAL"'), { timeout: 60_000, interval: 200 });
    expect((await cliAs(scientist, ['approve', 'done1', 'gate'])).code).toBe(0);
    await vi.waitFor(async () => expect((await cliAs(viewer, ['status', 'done1', '--json'])).stdout).toContain('"status":"COMPLETED"'), { timeout: 60_000, interval: 200 });

    const ids = async (args: string[]): Promise<string[]> => {
      const listed = await cliAs(viewer, ['list', ...args, '--json']);
      expect(listed.code, listed.stderr).toBe(0);
      return listed.json<Listed[]>().map((r) => r.runId);
    };
    expect(await ids([])).toEqual(['open1']);
    expect((await ids(['--all'])).sort()).toEqual(['done1', 'open1']);
    expect(await ids(['--status', 'COMPLETED'])).toEqual(['done1']);
    expect(await ids(['--workspace', 'elsewhere'])).toEqual([]);
    expect((await ids(['--all', '--since', '1h'])).sort()).toEqual(['done1', 'open1']);
    expect(await ids(['--all', '--since', '2999-01-01'])).toEqual([]);
    const table = await cliAs(viewer, ['list']);
    expect(table.stdout).toMatch(/^RUN +WORKSPACE +STATUS +PHASE +ITERATION +LAST ACTIVITY\nopen1 +lab +RUNNING +waiting /);

    // Nothing else was opened to the viewer.
    const replay = await cliAs(viewer, ['replay', 'done1']);
    expect(replay.code).toBe(4);
    expect(replay.stderr).toContain('is not allowed to read the runs\' event log');
    expect((await cliAs(viewer, ['pause', 'open1'])).code).toBe(4);
  });

  it('with no worker: the viewer is told a worker is needed; the scientist reads the log itself', async () => {
    worker!.child.kill('SIGTERM');
    await worker!.done;
    const viewerList = await cliAs(server.users.viewer, ['list', '--all']);
    expect(viewerList.code).not.toBe(0);
    expect(viewerList.stderr).toBe('error: no worker is serving ms.as.viewer.cmd.list — is `matterstack worker` running?\n');
    const scientistList = await cliAs(server.users.scientist, ['list', '--all', '--json']);
    expect(scientistList.code, scientistList.stderr).toBe(0);
    expect(scientistList.json<Listed[]>().map((r) => r.runId).sort()).toEqual(['done1', 'open1']);
  });
});
