import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_FILES } from '../actors/operators/local-operator.ts';
import { groupMembers } from '../actors/operators/process-group.ts';
import { runCli, startCli, type CliResult, type RunningCli } from './harness/cli.ts';
import { startNatsServer, type NatsServerHandle } from './harness/nats-server.ts';
import { oneWorkflowCampaign, waitFor } from './harness/workspace.ts';
import { makeWorkspace } from './nats-fixtures/workspace.ts';

// cancel --nats: the worker hosting the run stops the attempts; the command waits for that and reports it.
let server: NatsServerHandle;
let root: string;
let worker: RunningCli;

function scientist(args: string[]): Promise<CliResult> {
  const { user, pass } = server.users.scientist;
  return runCli(args, { root, env: { MATTERSTACK_NATS_URL: server.url, MATTERSTACK_NATS_USER: user, MATTERSTACK_NATS_PASS: pass } });
}

beforeAll(async () => {
  server = await startNatsServer();
  root = makeWorkspace(oneWorkflowCampaign([{ id: 'long', command: 'sleep 300' }]), 'ms-cancel-nats-');
  const { orchestrator } = server.users;
  worker = startCli(['worker', '--nats', server.url, '--user', orchestrator.user, '--id', 'cw1', '--lease-ttl-ms', '3000', '--poll-ms', '100'], {
    root,
    env: { MATTERSTACK_NATS_PASS: orchestrator.pass },
  });
  await waitFor(() => {
    if (worker.child.exitCode !== null) throw new Error(`worker exited ${worker.child.exitCode}: ${worker.output().stderr}`);
    return worker.output().stdout.includes('ready cw1') || undefined;
  }, 30_000, 'the worker to be ready');
}, 60_000);

afterAll(async () => {
  if (worker && worker.child.exitCode === null) {
    worker.child.kill('SIGTERM');
    await worker.done;
  }
  await server?.stop();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

describe('cancel --nats', () => {
  it('returns once the worker has stopped the process, and says what was stopped', async () => {
    expect((await scientist(['init', 'lab', '--run-id', 'n1'])).code).toBe(0);
    const file = path.join(root, 'lab', 'runs', 'n1', 'attempts', 'long', 'long-a1', LOCAL_FILES.started);
    const pgid = await waitFor(() => (fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as { pid: number }).pid : undefined), 30_000, 'the task to start');
    await waitFor(() => groupMembers(pgid).length >= 2 || undefined, 20_000, 'the task processes');
    const cancel = await scientist(['cancel', 'n1']);
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(groupMembers(pgid)).toEqual([]);
    expect(cancel.stdout).toMatch(new RegExp(`^accepted \\(seq \\d+\\)\\nstopped: long-a1 \\(local.default ${pgid}\\) CANCELLED\\n$`));
  });
});
