import fs from 'node:fs';
import { afterAll, beforeAll, vi } from 'vitest';
import { runCli, startCli, type CliResult, type RunningCli } from '../harness/cli.ts';
import { startNatsServer, type NatsServerHandle, type NatsUser } from '../../harness/nats-server.ts';
import { makeWorkspace } from './workspace.ts';

/** How the worker gets the orchestrator's credentials: each is a way users start one. */
export type WorkerCredentials = 'url' | 'user-flag' | 'env';

/** One nats-server, one workspaces root and one `matterstack worker` process, shared by a test file. */
export interface NatsCliFixture {
  readonly server: NatsServerHandle;
  readonly root: string;
  readonly worker: RunningCli;
  /** The CLI binary as `who`: NATS URL and credentials from the environment. */
  as(who: NatsUser, args: readonly string[]): Promise<CliResult>;
  /** The CLI binary as the scientist. */
  scientist(args: readonly string[]): Promise<CliResult>;
}

function workerCommand(server: NatsServerHandle, workerId: string, credentials: WorkerCredentials): { args: string[]; env: Record<string, string> } {
  const { user, pass } = server.users.orchestrator;
  const tail = ['--id', workerId, '--lease-ttl-ms', '3000', '--poll-ms', '100'];
  if (credentials === 'url') return { args: ['worker', '--nats', server.url.replace('nats://', `nats://${user}:${pass}@`), ...tail], env: {} };
  if (credentials === 'user-flag') return { args: ['worker', '--nats', server.url, '--user', user, ...tail], env: { MATTERSTACK_NATS_PASS: pass } };
  return { args: ['worker', ...tail], env: { MATTERSTACK_NATS_URL: server.url, MATTERSTACK_NATS_USER: user, MATTERSTACK_NATS_PASS: pass } };
}

/** Waits until `worker` prints `ready <id>`; fails at once, with its stderr, if it exits first. */
async function ready(worker: RunningCli, workerId: string): Promise<void> {
  const exited = worker.done.then((result) => {
    throw new Error(`worker ${workerId} exited ${result.code} before it was ready: ${result.stderr}`);
  });
  // Once the worker is ready its exit is the teardown's business, not a failure.
  exited.catch(() => undefined);
  const printed = vi.waitFor(() => {
    if (!worker.output().stdout.includes(`ready ${workerId}`)) throw new Error(`worker ${workerId} is not ready: ${worker.output().stderr}`);
  }, { timeout: 30_000, interval: 50 });
  await Promise.race([printed, exited]);
}

/** SIGTERM to a CLI process still running, then waits for it to exit. */
export async function stopCli(cli: RunningCli | undefined): Promise<void> {
  if (!cli || cli.child.exitCode !== null || cli.child.signalCode !== null) return;
  cli.child.kill('SIGTERM');
  await cli.done;
}

/**
 * Registers beforeAll/afterAll that start a nats-server (nats.conf), a root with workspace `lab`
 * running `campaign`, and a `matterstack worker` as the orchestrator; the fields are set once beforeAll ran.
 */
export function natsCliFixture(campaign: string, options: { workerId: string; prefix: string; credentials?: WorkerCredentials }): NatsCliFixture {
  let server: NatsServerHandle | undefined;
  let root: string | undefined;
  let worker: RunningCli | undefined;
  const set = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`the NATS CLI fixture has no ${what} yet (used before beforeAll)`);
    return value;
  };
  const fixture: NatsCliFixture = {
    get server() {
      return set(server, 'server');
    },
    get root() {
      return set(root, 'root');
    },
    get worker() {
      return set(worker, 'worker');
    },
    as(who, args) {
      return runCli(args, { root: fixture.root, env: { MATTERSTACK_NATS_URL: fixture.server.url, MATTERSTACK_NATS_USER: who.user, MATTERSTACK_NATS_PASS: who.pass } });
    },
    scientist(args) {
      return fixture.as(fixture.server.users.scientist, args);
    },
  };
  beforeAll(async () => {
    server = await startNatsServer();
    root = makeWorkspace(campaign, options.prefix);
    const command = workerCommand(server, options.workerId, options.credentials ?? 'url');
    worker = startCli(command.args, { root, env: command.env });
    await ready(worker, options.workerId);
  }, 60_000);
  afterAll(async () => {
    await stopCli(worker);
    await server?.stop();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });
  return fixture;
}
