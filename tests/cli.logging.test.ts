import fs from 'node:fs';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { runCli, startCli, type RunningCli } from './harness/cli.ts';
import { startNatsServer, type NatsServerHandle } from '../harness/nats-server.ts';
import { makeWorkspace } from './nats-fixtures/workspace.ts';
import { oneWorkflowCampaign, tempRoot, type TempRoot } from './harness/workspace.ts';

/** One task whose input file is missing: its operator refuses it at prepare (a failing effect); one that runs. */
const REFUSED_CAMPAIGN = oneWorkflowCampaign([
  { id: 'lost', command: 'true', files: { 'in.txt': { source: 'missing.txt' } }, allowFailure: true },
  { id: 'ok', command: 'true' },
]);

/** stderr's lines, each parsed as JSON (fails on any line that is not). */
function jsonLines(stderr: string): Record<string, unknown>[] {
  return stderr
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new Error(`not a JSON log line: ${line}`);
      }
    });
}

let temp: TempRoot | undefined;
let server: NatsServerHandle | undefined;
let worker: RunningCli | undefined;
let natsRoot: string | undefined;
afterAll(async () => {
  worker?.child.kill('SIGTERM');
  await worker?.done;
  await server?.stop();
  temp?.cleanup();
  if (natsRoot !== undefined) fs.rmSync(natsRoot, { recursive: true, force: true });
});

describe('--log-level', () => {
  it('commands are quiet by default; --log-level debug adds JSON debug lines on stderr, never on stdout', async () => {
    temp = tempRoot('ms-cli-logging-');
    temp.workspace('ws', REFUSED_CAMPAIGN);
    const root = temp.root;
    expect((await runCli(['init', 'ws', '--run-id', 'quiet'], { root })).code).toBe(0);
    expect((await runCli(['init', 'ws', '--run-id', 'loud'], { root })).code).toBe(0);

    const quiet = await runCli(['step', 'quiet'], { root });
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stderr).toBe('');

    const loud = await runCli(['step', 'loud', '--json', '--log-level', 'debug'], { root });
    expect(loud.code, loud.stderr).toBe(0);
    expect(loud.json()).toMatchObject({ runId: 'loud' });
    const lines = jsonLines(loud.stderr);
    expect(lines.filter((l) => l.level === 20 && l.runId === 'loud').map((l) => l.msg)).toEqual(expect.arrayContaining(['appended', 'effect']));
    expect(lines.find((l) => l.msg === 'attempt not submitted')).toMatchObject({ level: 30, runId: 'loud', attemptId: 'lost-a1', operator: 'local.default' });

    const fromEnv = await runCli(['step', 'quiet'], { root, env: { MATTERSTACK_LOG_LEVEL: 'debug' } });
    expect(jsonLines(fromEnv.stderr).some((l) => l.level === 20 && l.runId === 'quiet')).toBe(true);
  });

  it('an invalid level is a usage error naming --log-level (or MATTERSTACK_LOG_LEVEL), on one line', async () => {
    temp = tempRoot('ms-cli-logging-');
    temp.workspace('ws', REFUSED_CAMPAIGN);
    const bad = await runCli(['list', '--log-level', 'loud'], { root: temp.root });
    expect([bad.code, bad.stdout]).toEqual([2, '']);
    expect(bad.stderr).toMatch(/^error: invalid --log-level "loud": expected one of fatal, error, warn, info, debug, trace, silent[^\n]*\n$/);
    const env = await runCli(['list', '--json'], { root: temp.root, env: { MATTERSTACK_LOG_LEVEL: 'chatty' } });
    expect(env.code).toBe(2);
    expect(env.json()).toEqual({ error: { code: 'USAGE', message: expect.stringContaining('invalid MATTERSTACK_LOG_LEVEL "chatty"') } });
  });
});

describe('a worker logs JSON lines', () => {
  it('every line carries the worker id; run lines the run id; a failing effect its attempt id; no password', async () => {
    server = await startNatsServer();
    natsRoot = makeWorkspace(REFUSED_CAMPAIGN, 'ms-cli-logging-nats-');
    const { orchestrator } = server.users;
    const url = server.url.replace('nats://', `nats://${orchestrator.user}:${orchestrator.pass}@`);
    const started = startCli(['worker', '--nats', url, '--id', 'log_w1', '--lease-ttl-ms', '3000', '--poll-ms', '100'], { root: natsRoot });
    worker = started;
    await vi.waitFor(() => expect(started.output().stdout).toContain('ready log_w1'), { timeout: 60_000, interval: 100 });
    const init = await runCli(['init', 'lab', '--run-id', 'logged'], { root: natsRoot, env: { MATTERSTACK_NATS_URL: url } });
    expect(init.code, init.stderr).toBe(0);

    await vi.waitFor(() => expect(started.output().stderr).toContain('attempt not submitted'), { timeout: 60_000, interval: 100 });
    const lines = jsonLines(started.output().stderr);
    for (const line of lines) expect(line).toMatchObject({ workerId: 'log_w1' });
    expect(lines.some((l) => l.msg === 'hosting run' && l.runId === 'logged' && l.level === 30)).toBe(true);
    expect(lines.find((l) => l.msg === 'attempt not submitted')).toMatchObject({ runId: 'logged', attemptId: 'lost-a1', operator: 'local.default', reason: expect.stringContaining('missing.txt') });
    expect(lines.some((l) => l.level === 20)).toBe(false);
    expect(started.output().stderr).not.toContain(orchestrator.pass);
  });
});
