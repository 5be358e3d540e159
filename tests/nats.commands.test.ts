import fs from 'node:fs';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { JetStreamEventLog } from '../storage/jetstream-event-log.ts';
import { requestCommand, requestInit } from '../distributed/command-client.ts';
import { runWorker, type WorkerHandle } from '../distributed/worker.ts';
import { startNatsServer, type NatsServerHandle } from '../harness/nats-server.ts';
import { GATE_CAMPAIGN, makeWorkspace } from './nats-fixtures/workspace.ts';

let server: NatsServerHandle;
let worker: WorkerHandle;
let root: string;
let scientist: NatsConnection;
let log: JetStreamEventLog;

beforeAll(async () => {
  server = await startNatsServer();
  root = makeWorkspace(GATE_CAMPAIGN);
  worker = await runWorker({ natsUrl: server.url, ...server.users.orchestrator, root, leaseTtlMs: 3000, operators: { pollIntervalMs: 100 } });
  scientist = await connect({ servers: server.url, ...server.users.scientist });
  log = await JetStreamEventLog.connect({ servers: server.url, ...server.users.orchestrator });
});
afterAll(async () => {
  await scientist?.close();
  await log?.close();
  await worker?.stop();
  await server?.stop();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

/** How long a test waits for the worker to get a run somewhere. */
const UNTIL = { timeout: 15_000, interval: 50 };

async function statusOf(runId: string): Promise<string | undefined> {
  const reply = await requestCommand(scientist, runId, 'status');
  return reply.accepted ? (reply.status?.status as string | undefined) : undefined;
}

describe('commands on NATS subjects', () => {
  it('init starts a run on a worker; its events are observable live; approve completes it', async () => {
    const seen: string[] = [];
    const sub = scientist.subscribe('ms.evt.r_gate.>', {
      callback: (_e, msg) => {
        for (const record of msg.json<{ seq: number; type: string }[]>()) seen.push(`${record.seq}:${record.type}`);
      },
    });
    const init = await requestInit(scientist, { workspace: 'lab', runId: 'r_gate', commandId: 'init-1' });
    expect(init).toMatchObject({ accepted: true, runId: 'r_gate' });
    expect(await requestInit(scientist, { workspace: 'lab', runId: 'r_gate', commandId: 'init-1' })).toEqual(init);
    expect(await requestInit(scientist, { workspace: 'lab', runId: 'r_gate' })).toMatchObject({ accepted: false, error: { code: 'RUN_EXISTS' } });

    // The gate waits for a human.
    await vi.waitFor(async () => {
      const reply = await requestCommand(scientist, 'r_gate', 'status');
      const tasks = reply.accepted ? (reply.status?.tasks as { id: string; status: string }[]) : [];
      expect(tasks.find((t) => t.id === 'gate')?.status).toBe('WAITING_EXTERNAL');
    }, UNTIL);
    const approve = await requestCommand(scientist, 'r_gate', 'approve', { taskId: 'gate', comment: 'fine', by: 'ada' });
    expect(approve.accepted).toBe(true);
    await vi.waitFor(async () => expect(await statusOf('r_gate')).toBe('COMPLETED'), UNTIL);

    // Every logged record was seen live, in order, exactly once.
    const logged: string[] = [];
    for await (const e of log.readRun('r_gate')) logged.push(`${e.seq}:${e.type}`);
    await vi.waitFor(() => expect(seen.length).toBeGreaterThanOrEqual(logged.length), UNTIL);
    expect(seen).toEqual(logged);
    sub.unsubscribe();
  });

  it('accepts, rejects and de-duplicates commands; a rejected or invalid command changes nothing', async () => {
    expect((await requestInit(scientist, { workspace: 'lab', runId: 'r_cmd' })).accepted).toBe(true);
    // Settled first (the gate waits for a person): only the commands below may append from here on.
    await vi.waitFor(async () => {
      const reply = await requestCommand(scientist, 'r_cmd', 'status');
      const tasks = reply.accepted ? (reply.status?.tasks as { id: string; status: string }[]) : [];
      expect(tasks.find((t) => t.id === 'gate')?.status).toBe('WAITING_EXTERNAL');
    }, UNTIL);

    const pause = await requestCommand(scientist, 'r_cmd', 'pause', { commandId: 'p-1', by: 'ada' });
    expect(pause).toMatchObject({ accepted: true });
    // Same command id: the first answer, not a second execution.
    expect(await requestCommand(scientist, 'r_cmd', 'pause', { commandId: 'p-1' })).toEqual(pause);
    const before = await log.lastSeq('r_cmd');

    expect(await requestCommand(scientist, 'r_cmd', 'pause', { commandId: 'p-2' })).toMatchObject({ accepted: false, error: { code: 'ALREADY_PAUSED' } });
    // Repeating the rejected one answers the same rejection.
    expect(await requestCommand(scientist, 'r_cmd', 'pause', { commandId: 'p-2' })).toMatchObject({ accepted: false, error: { code: 'ALREADY_PAUSED' } });
    expect(await requestCommand(scientist, 'r_cmd', 'rerun', { taskId: 'no such/task' })).toMatchObject({ accepted: false, error: { code: 'VALIDATION_FAILED' } });
    expect(await requestCommand(scientist, 'r_cmd', 'approve', { taskId: 'gate', extra: 1 })).toMatchObject({ accepted: false, error: { code: 'VALIDATION_FAILED' } });
    expect(await requestCommand(scientist, 'r_cmd', 'cancel-attempt', { attemptId: 'nope-a1' })).toMatchObject({ accepted: false, error: { code: 'ATTEMPT_NOT_FOUND' } });
    const raw = await scientist.request('ms.cmd.r_cmd.pause', 'not json', { timeout: 5000 });
    expect(raw.json()).toMatchObject({ accepted: false, error: { code: 'VALIDATION_FAILED' } });
    const unknownVerb = await scientist.request('ms.as.scientist.cmd.r_cmd.explode', '{}', { timeout: 5000 });
    expect(unknownVerb.json()).toMatchObject({ accepted: false, error: { code: 'VALIDATION_FAILED' } });
    // Rejections are recorded (the history shows what was refused), invalid payloads are not.
    const after = await log.lastSeq('r_cmd');
    const types: string[] = [];
    for await (const e of log.readRun('r_cmd', before)) types.push(e.type);
    expect(types.every((t) => t.startsWith('CMD.'))).toBe(true);
    expect(after - before).toBe(types.length);
    expect(await statusOf('r_cmd')).toBe('PAUSED');

    expect(await requestCommand(scientist, 'r_unknown', 'pause')).toMatchObject({ accepted: false, error: { code: 'RUN_NOT_FOUND' } });
    expect(await requestCommand(scientist, 'r_unknown', 'status')).toMatchObject({ accepted: false, error: { code: 'RUN_NOT_FOUND' } });
    expect(await requestInit(scientist, { workspace: '../etc' })).toMatchObject({ accepted: false, error: { code: 'VALIDATION_FAILED' } });
    expect(await requestInit(scientist, { workspace: 'nowhere' })).toMatchObject({ accepted: false });

    expect((await requestCommand(scientist, 'r_cmd', 'resume')).accepted).toBe(true);
    expect((await requestCommand(scientist, 'r_cmd', 'cancel', { by: 'ada' })).accepted).toBe(true);
    await vi.waitFor(async () => expect(await statusOf('r_cmd')).toBe('CANCELLED'), UNTIL);
    // A terminal run can be revived through a command even though no worker hosts it any more.
    await vi.waitFor(() => expect(worker.hostedRuns()).not.toContain('r_cmd'), UNTIL);
    expect((await requestCommand(scientist, 'r_cmd', 'revive')).accepted).toBe(true);
    await vi.waitFor(async () => expect(await statusOf('r_cmd')).toBe('RUNNING'), UNTIL);
    // Revived: the cancelled gate is pending again and is dispatched anew.
    await vi.waitFor(async () => {
      const reply = await requestCommand(scientist, 'r_cmd', 'status');
      const tasks = reply.accepted ? (reply.status?.tasks as { id: string; status: string }[]) : [];
      expect(tasks.find((t) => t.id === 'gate')?.status).toBe('WAITING_EXTERNAL');
    }, UNTIL);
    expect(await requestCommand(scientist, 'r_cmd', 'reject', { taskId: 'gate', comment: 'no' })).toMatchObject({ accepted: true });
    await vi.waitFor(async () => expect(await statusOf('r_cmd')).toBe('FAILED'), UNTIL);
  });

  it('a viewer may ask for status but its commands are refused by the server and change nothing', async () => {
    expect((await requestInit(scientist, { workspace: 'lab', runId: 'r_view' })).accepted).toBe(true);
    await vi.waitFor(async () => expect(await statusOf('r_view')).toBe('RUNNING'), UNTIL);
    const viewer = await connect({ servers: server.url, ...server.users.viewer });
    const violations: string[] = [];
    void (async () => {
      for await (const s of viewer.status()) if (s.type === 'error') violations.push(String(s.error));
    })();
    const before = await log.lastSeq('r_view');
    viewer.publish('ms.cmd.r_view.pause', '{}');
    viewer.publish('ms.as.viewer.cmd.r_view.pause', '{}');
    await viewer.flush();
    await vi.waitFor(() => expect(violations.length).toBeGreaterThan(1), UNTIL);
    expect(violations.join('\n')).toMatch(/ms\.cmd\.r_view\.pause/);
    expect(violations.join('\n')).toMatch(/ms\.as\.viewer\.cmd\.r_view\.pause/);
    await expect(viewer.request('ms.cmd.r_view.cancel', '{}', { timeout: 1000 })).rejects.toThrow();
    // Status on the documented subject (what a dashboard uses) and on its own authenticated one.
    for (const subject of ['ms.cmd.r_view.status', 'ms.as.viewer.cmd.r_view.status']) {
      const status = await viewer.request(subject, '', { timeout: 5000 });
      expect(status.json()).toMatchObject({ accepted: true, status: { runId: 'r_view', status: 'RUNNING' } });
    }
    // The run goes on (its gate's attempt may advance meanwhile), but no command reached its log.
    const commands: string[] = [];
    for await (const e of log.readRun('r_view', before)) if (e.type.startsWith('CMD.')) commands.push(e.type);
    expect(commands).toEqual([]);
    await viewer.close();
  });
});
