import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JetStreamEventLog } from '../storage/jetstream-event-log.ts';
import { startNatsServer, type NatsServerHandle } from '../harness/nats-server.ts';
import { makeEvent } from './event-log.contract.ts';

let server: NatsServerHandle;

beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await server?.stop();
});

describe('nats.conf permissions', () => {
  it('lets a scientist read the events stream but not append, purge or delete it', async () => {
    const { orchestrator, scientist } = server.users;
    const writer = await JetStreamEventLog.connect({ servers: server.url, ...orchestrator });
    await writer.append('perm_run', [makeEvent()], 0);

    const reader = await JetStreamEventLog.connect({ servers: server.url, ...scientist });
    const read = [];
    for await (const event of reader.readRun('perm_run')) read.push(event);
    expect(read.map((e) => e.seq)).toEqual([1]);
    expect(await reader.lastSeq('perm_run')).toBe(1);
    await expect(reader.append('perm_run', [makeEvent()], 1)).rejects.toThrow();

    const nc = await connect({ servers: server.url, ...scientist });
    const jsm = await jetstreamManager(nc, { checkAPI: false });
    await expect(jsm.streams.purge('MS_EVENTS')).rejects.toThrow();
    await expect(jsm.streams.delete('MS_EVENTS')).rejects.toThrow();
    await nc.close();

    expect(await writer.lastSeq('perm_run')).toBe(1);
    await reader.close();
    await writer.close();
  });

  it('lets a viewer request status and logs only', async () => {
    const nc = await connect({ servers: server.url, ...server.users.viewer });
    const violations: string[] = [];
    void (async () => {
      for await (const s of nc.status()) if (s.type === 'error') violations.push(String(s.error));
    })();
    nc.publish('ms.cmd.run1.pause', 'x');
    nc.publish('ms.as.viewer.cmd.run1.pause', 'x');
    nc.publish('ms.evt.run1.log', 'x');
    await nc.flush();
    await new Promise((r) => setTimeout(r, 100));
    expect(violations.join('\n')).toMatch(/ms\.cmd\.run1\.pause/);
    expect(violations.join('\n')).toMatch(/ms\.as\.viewer\.cmd\.run1\.pause/);
    // Allowed (no worker here: nobody answers, but the server lets them through).
    for (const subject of ['ms.cmd.run1.status', 'ms.as.viewer.cmd.run1.status', 'ms.cmd.run1.logs', 'ms.as.viewer.cmd.run1.logs']) {
      await expect(nc.request(subject, 'x', { timeout: 200 })).rejects.toThrow(/no responders|timeout|TIMEOUT|503/i);
    }
    nc.publish('ms.cmd.run1.logs', 'x');
    await nc.flush();
    await new Promise((r) => setTimeout(r, 100));
    expect(violations.join('\n')).not.toMatch(/run1\.logs/);
    await nc.close();
  });

  it('lets each user send commands as itself only: ms.as.<another user>.> is refused by the server', async () => {
    const { scientist, viewer, orchestrator } = server.users;
    const cases: [typeof scientist, string][] = [
      [scientist, 'ms.as.orchestrator.cmd.run1.pause'],
      [scientist, 'ms.as.viewer.cmd.run1.status'],
      [scientist, 'ms.as.orchestrator.cmd.init'],
      [viewer, 'ms.as.scientist.cmd.run1.status'],
      [orchestrator, 'ms.as.scientist.cmd.run1.pause'],
    ];
    for (const [who, subject] of cases) {
      const nc = await connect({ servers: server.url, ...who });
      await expect(nc.request(subject, '{}', { timeout: 2000 }), `${who.user} on ${subject}`).rejects.toThrow(/permission/i);
      await nc.close();
    }
    // Its own prefix and the documented subjects pass the server (no worker here: no responders).
    const nc = await connect({ servers: server.url, ...scientist });
    for (const subject of ['ms.as.scientist.cmd.run1.pause', 'ms.cmd.run1.pause', 'ms.cmd.init']) {
      await expect(nc.request(subject, '{}', { timeout: 2000 }), subject).rejects.toThrow(/no responders|503/i);
    }
    await nc.close();
  });
});
