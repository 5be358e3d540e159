import fs from 'node:fs';
import { connect } from '@nats-io/transport-node';
import { describe, expect, it, vi } from 'vitest';
import { runCli } from './harness/cli.ts';
import { natsCliFixture } from './nats-fixtures/cli-worker.ts';
import { GATE_CAMPAIGN } from './nats-fixtures/workspace.ts';
import { JetStreamEventLog } from '../storage/jetstream-event-log.ts';

// Who did what over NATS, and what the CLI prints about it: a real nats-server from nats.conf, a
// `matterstack worker` process, the CLI binary as scientist / viewer.
// The worker takes its URL and credentials from the environment.
const nats = natsCliFixture(GATE_CAMPAIGN, { workerId: 'audit_w1', prefix: 'ms-cli-audit-', credentials: 'env' });
const cliAs = nats.as;

describe('the CLI over NATS: passwords and permissions (real nats-server, worker process, CLI binary)', () => {
  it('no password is printed: init with user:pass in the URL hints a command with --user, status hints too', async () => {
    const { scientist } = nats.server.users;
    const url = nats.server.url.replace('nats://', `nats://${scientist.user}:${scientist.pass}@`);
    const init = await runCli(['init', 'lab', '--run-id', 'secret1', '--nats', url], { root: nats.root, env: { MATTERSTACK_NATS_PASS: scientist.pass } });
    expect(init.code, init.stderr).toBe(0);
    expect(init.stderr).toBe(`created run secret1 of lab; the worker runs it; watch it with matterstack --nats ${nats.server.url} --user scientist status secret1\n`);
    await vi.waitFor(async () => expect((await cliAs(scientist, ['status', 'secret1', '--json'])).json<{ gates: unknown[] }>().gates).not.toEqual([]), { timeout: 30_000 });
    const status = await runCli(['status', 'secret1', '--nats', url], { root: nats.root });
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain(`approve: matterstack --nats ${nats.server.url} --user scientist approve secret1 gate`);
    for (const text of [init.stdout, init.stderr, status.stdout, status.stderr]) expect(text).not.toContain(scientist.pass);
  });

  it('the audit trail records the NATS user the server authenticated; a client\'s `by` is only a claim', async () => {
    const { scientist } = nats.server.users;
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
    const log = await JetStreamEventLog.connect({ servers: nats.server.url, ...nats.server.users.orchestrator });
    const before = await log.lastSeq('who1');
    const nc = await connect({ servers: nats.server.url, ...scientist });
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
    const { scientist } = nats.server.users;
    const nc = await connect({ servers: nats.server.url, ...scientist });
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
    const log = await JetStreamEventLog.connect({ servers: nats.server.url, ...nats.server.users.orchestrator });
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
    const long = await cliAs(nats.server.users.scientist, ['approve', 'who1', 'gate', '--comment', 'x'.repeat(10_001)]);
    expect(long.code).toBe(2);
    expect(long.stderr).toBe(`error: invalid comment "${'x'.repeat(40)}…" (10001 characters): Too big: expected string to have <=10000 characters\n`);
    const by = await cliAs(nats.server.users.scientist, ['pause', 'who1', '--by', 'b'.repeat(129)]);
    expect(by.code).toBe(2);
    expect(by.stderr).toMatch(/^error: invalid by "b{40}…" \(129 characters\): /);
  });

  it('a viewer\'s read of the event log says which permission it lacks: one line, exit 4', async () => {
    const replay = await cliAs(nats.server.users.viewer, ['replay', 'secret1']);
    expect(replay.code).toBe(4);
    expect(replay.stderr).toBe('error: NATS user "viewer" is not allowed to read the runs\' event log (publish on $JS.API.INFO refused by the server\'s permissions)\n');
  });
});
