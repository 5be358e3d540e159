import fs from 'node:fs';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli, type CliResult, type RunningCli } from './harness/cli.ts';
import { startNatsServer, type NatsServerHandle, type NatsUser } from './harness/nats-server.ts';
import { waitFor } from './harness/workspace.ts';
import { GATE_CAMPAIGN, makeWorkspace } from './nats-fixtures/workspace.ts';
import { JetStreamEventLog } from '../events/jetstream-event-log.ts';

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

  it('the audit trail records the NATS user the server authenticated; a client\'s `by` is only a claim', async () => {
    const { scientist } = server.users;
    expect((await cliAs(scientist, ['init', 'lab', '--run-id', 'who1'])).code).toBe(0);
    const pause = await cliAs(scientist, ['pause', 'who1', '--by', 'bob']);
    expect(pause.code, pause.stderr).toBe(0);
    const replay = await cliAs(scientist, ['replay', 'who1', '--type', 'CMD.']);
    expect(replay.stdout).toContain('command pause by bob (as scientist) accepted');
    const evidence = await cliAs(scientist, ['export-evidence', 'who1']);
    expect(evidence.code, evidence.stderr).toBe(0);
    const report = fs.readFileSync(evidence.stdout.split('\n')[1]!.replace(/^wrote /, ''), 'utf8');
    expect(report).toMatch(/\| pause \| — \| bob \(as scientist\) \| accepted \|/);

    // The scientist cannot speak for another user, nor bring its own principal in the payload.
    const log = await JetStreamEventLog.connect({ servers: server.url, ...server.users.orchestrator });
    const before = await log.lastSeq('who1');
    const nc = await connect({ servers: server.url, ...scientist });
    await expect(nc.request('ms.as.orchestrator.cmd.who1.resume', '{}', { timeout: 2000 })).rejects.toThrow(/permission/i);
    for (const subject of ['ms.as.scientist.cmd.who1.resume', 'ms.cmd.who1.resume']) {
      const claimed = await nc.request(subject, JSON.stringify({ principal: 'orchestrator' }), { timeout: 5000 });
      expect(claimed.json(), subject).toMatchObject({ accepted: false, error: { code: 'VALIDATION_FAILED', message: expect.stringContaining('principal') } });
    }
    await nc.close();
    expect(await log.lastSeq('who1')).toBe(before);
    await log.close();
  });

  it('a plain client on the documented subjects (ms.cmd.<run>.<verb>, ms.cmd.init) is served; its `by` is recorded as an unverified claim', async () => {
    const { scientist } = server.users;
    const nc = await connect({ servers: server.url, ...scientist });
    const init = await nc.request('ms.cmd.init', JSON.stringify({ workspace: 'lab', runId: 'plain1' }), { timeout: 30_000 });
    expect(init.json()).toMatchObject({ accepted: true });
    const pause = await nc.request('ms.cmd.plain1.pause', JSON.stringify({ by: 'bob' }), { timeout: 10_000 });
    expect(pause.json()).toMatchObject({ accepted: true });
    await nc.close();

    const replay = await cliAs(scientist, ['replay', 'plain1', '--type', 'CMD.']);
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stdout).toContain('command pause by bob (unverified) accepted');
    const json = await cliAs(scientist, ['replay', 'plain1', '--type', 'CMD.PAUSE', '--json']);
    expect(json.json<{ changes: string[] }[]>().flatMap((e) => e.changes)).toContain('command pause by bob (unverified) accepted');
    // The record itself: the claim, and no principal (nobody vouched for the sender).
    const log = await JetStreamEventLog.connect({ servers: server.url, ...server.users.orchestrator });
    const pauses = [];
    for await (const event of log.readRun('plain1')) if (event.type === 'CMD.PAUSE') pauses.push(event);
    await log.close();
    expect(pauses).toHaveLength(1);
    expect(JSON.stringify(pauses[0])).toContain('"by":"bob"');
    expect(JSON.stringify(pauses[0])).not.toContain('principal');

    // The same through the CLI (authenticated subject): the server vouched for the sender.
    expect((await cliAs(scientist, ['resume', 'plain1', '--by', 'bob'])).code).toBe(0);
    const after = await cliAs(scientist, ['replay', 'plain1', '--type', 'CMD.']);
    expect(after.stdout).toContain('command resume by bob (as scientist) accepted');
  });

  it('--comment and --by over NATS: the same limits and the same line as on the embedded path (tests/cli.options.test.ts)', async () => {
    const long = await cliAs(server.users.scientist, ['approve', 'who1', 'gate', '--comment', 'x'.repeat(10_001)]);
    expect(long.code).toBe(2);
    expect(long.stderr).toBe(`error: invalid comment "${'x'.repeat(40)}…" (10001 characters): Too big: expected string to have <=10000 characters\n`);
    const by = await cliAs(server.users.scientist, ['pause', 'who1', '--by', 'b'.repeat(129)]);
    expect(by.code).toBe(2);
    expect(by.stderr).toMatch(/^error: invalid by "b{40}…" \(129 characters\): /);
  });

  it('a viewer\'s read of the event log says which permission it lacks: one line, exit 4', async () => {
    const replay = await cliAs(server.users.viewer, ['replay', 'secret1']);
    expect(replay.code).toBe(4);
    expect(replay.stderr).toBe('error: NATS user "viewer" is not allowed to read the runs\' event log (publish on $JS.API.INFO refused by the server\'s permissions)\n');
  });
});
