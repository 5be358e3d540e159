import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RunHost } from '../host/run-host.ts';
import { currentWriter } from '../host/writer-stamp.ts';
import type { EventLog } from '../events/event-log.ts';
import { HOST_VERSION_TYPE, type WriterStamp } from '../events/host-version.ts';
import { JetStreamEventLog } from '../storage/jetstream-event-log.ts';
import { SqliteEventLog } from '../storage/sqlite-event-log.ts';
import { runCli, startCli, type CliOptions, type RunningCli } from './harness/cli.ts';
import { startNatsServer, type NatsServerHandle } from '../harness/nats-server.ts';
import { oneWorkflowCampaign, tempRoot, type TempRoot } from './harness/workspace.ts';
import { GATE_CAMPAIGN, makeWorkspace } from './nats-fixtures/workspace.ts';

// Issue #15: history that survives upgrades. A host that re-decides a logged record differently
// refuses the run (HISTORY_DIVERGED) while the views keep reading it; every writer of a run
// (MatterStack version + machines hash) is in the log, and replay / evidence say who wrote what.

const roots: TempRoot[] = [];
afterAll(() => roots.forEach((r) => r.cleanup()));

/** A version that is not this one, as an older MatterStack would have stamped its records. */
const OLD: WriterStamp = { version: '0.0.9-old', machines: '0123456789abcdef' };
const CURRENT = currentWriter();
const TWO_TASKS = oneWorkflowCampaign([{ id: 'make', command: 'true' }, { id: 'after', command: 'true', dependencies: ['make'] }]);

interface Entry {
  seq: number;
  type: string;
  actor: string;
  writtenBy: WriterStamp | null;
}

function logFile(root: string): string {
  return path.join(root, '.matterstack', 'events.sqlite');
}

function recordCount(root: string, runId: string): number {
  const db = new Database(logFile(root), { readonly: true });
  try {
    return (db.prepare('SELECT COUNT(*) AS n FROM events WHERE run_id = ?').get(runId) as { n: number }).n;
  } finally {
    db.close();
  }
}

/** What an older MatterStack does with the run: it hosts it, takes a pause command, and lets go. */
async function pauseAs(writer: WriterStamp, log: EventLog, runId: string): Promise<void> {
  const host = await RunHost.restore(log, runId, { writer });
  const { appended } = await host.deliver({ actor: 'run', event: { type: 'CMD.PAUSE', by: 'old-host' } });
  expect(appended.map((r) => r.type)).toEqual([HOST_VERSION_TYPE, 'CMD.PAUSE']);
}

/**
 * The writers replay reports: records up to the old host's are the current version's, its
 * HOST.VERSION opens the old version's stretch, the next command's opens the current one's again.
 * Exactly three HOST.VERSION records: a host of an unchanged writer records none.
 */
function expectThreeStretches(entries: Entry[]): { oldFrom: number; backFrom: number } {
  const stamps = entries.filter((e) => e.type === HOST_VERSION_TYPE);
  expect(stamps.map((e) => e.writtenBy)).toEqual([CURRENT, OLD, CURRENT]);
  const [first, old, back] = stamps as [Entry, Entry, Entry];
  expect(first.seq).toBe(1);
  for (const e of entries) {
    const expected = e.seq < old.seq ? CURRENT : e.seq < back.seq ? OLD : CURRENT;
    expect(e.writtenBy, `seq ${e.seq}`).toEqual(expected);
  }
  expect(entries.find((e) => e.seq === old.seq + 1)?.type).toBe('CMD.PAUSE');
  expect(entries.find((e) => e.seq === back.seq + 1)?.type).toBe('CMD.RESUME');
  return { oldFrom: old.seq, backFrom: back.seq };
}

/** The text timeline names each writer once, where its records begin. */
function expectWriterLines(text: string): void {
  const lines = text.split('\n').filter((l) => l.startsWith('-- written by'));
  const current = `-- written by MatterStack ${CURRENT.version} (machines ${CURRENT.machines}) --`;
  expect(lines).toEqual([current, `-- written by MatterStack ${OLD.version} (machines ${OLD.machines}) --`, current]);
  expect(text.split('\n')[1]).toMatch(/^#1 \S+ run HOST\.VERSION - → -$/);
}

describe('history across versions on the embedded log (CLI)', () => {
  it('refuses to host a run whose logged outcome this version decides otherwise, names record and versions, appends nothing; views still read it', async () => {
    const temp = tempRoot('ms-history-');
    roots.push(temp);
    temp.workspace('lab', TWO_TASKS);
    const { root } = temp;
    expect((await runCli(['init', 'lab', '--run-id', 'd1'], { root })).code).toBe(0);
    expect((await runCli(['step', 'd1'], { root })).code).toBe(0);

    // As if an older MatterStack had written this log and decided make-a1's creation otherwise.
    const db = new Database(logFile(root));
    const target = db.prepare(`SELECT seq FROM events WHERE run_id = 'd1' AND actor = 'make-a1' AND type = 'ATTEMPT.CREATED'`).get() as { seq: number };
    db.prepare(`UPDATE events SET payload = ? WHERE run_id = 'd1' AND seq = 1 AND type = ?`).run(JSON.stringify(OLD), HOST_VERSION_TYPE);
    db.prepare(`UPDATE events SET to_state = '"cancelled"' WHERE run_id = 'd1' AND seq = ?`).run(target.seq);
    db.close();
    const before = recordCount(root, 'd1');

    for (const args of [['step', 'd1'], ['loop', 'd1'], ['pause', 'd1']]) {
      const refused = await runCli(args, { root });
      expect(refused.code, `${args.join(' ')}: ${refused.stderr}`).toBe(9);
      expect(refused.stderr).toContain(`run d1 is not hosted by MatterStack ${CURRENT.version} (machines ${CURRENT.machines})`);
      expect(refused.stderr).toContain(`its history diverges at seq ${target.seq} (make-a1 ATTEMPT.CREATED): the logged state differs`);
      expect(refused.stderr).toContain(`Logged by MatterStack ${OLD.version} (machines ${OLD.machines}): to cancelled`);
      expect(refused.stderr).toMatch(/This version: to \w+/);
      expect(refused.stderr).toContain(`Nothing was appended. Host the run with MatterStack ${OLD.version}, which wrote that record`);
      expect(refused.stderr).toContain('"Upgrades and history"');
    }
    const json = (await runCli(['step', 'd1', '--json'], { root }));
    expect(json.stdout + json.stderr).toContain('HISTORY_DIVERGED');
    expect(recordCount(root, 'd1')).toBe(before);

    const replay = await runCli(['replay', 'd1'], { root });
    expect(replay.code).toBe(0);
    expect(replay.stdout).toContain(`-- written by MatterStack ${OLD.version} (machines ${OLD.machines}) --`);
    expect(replay.stdout).toContain('make-a1 ATTEMPT.CREATED - → cancelled');
    const verify = await runCli(['replay', 'd1', '--verify'], { root });
    expect(verify.code).toBe(9);
    expect(verify.stdout).toContain(`replay DIVERGES at seq ${target.seq}`);
    expect(verify.stdout).toContain(`written by:      MatterStack ${OLD.version} (machines ${OLD.machines})`);
    expect(verify.stdout).toContain(`recomputed by:   MatterStack ${CURRENT.version} (machines ${CURRENT.machines})`);
    expect((await runCli(['status', 'd1'], { root })).code).toBe(0);

    const explain = await runCli(['explain', 'd1'], { root });
    expect(explain.code, explain.stderr).toBe(0);
    expect(explain.stdout).toContain(`HISTORY DIVERGES at seq ${target.seq} (make-a1 ATTEMPT.CREATED, state)`);
    expect(explain.stdout).toContain(`host the run with MatterStack ${OLD.version}`);
    const explained = (await runCli(['explain', 'd1', '--json'], { root })).json<{ history: { seq: number; writtenBy: WriterStamp; readBy: WriterStamp } | null }>();
    expect(explained.history).toMatchObject({ seq: target.seq, writtenBy: OLD, readBy: CURRENT });

    const exported = (await runCli(['export-evidence', 'd1', '--json'], { root })).json<{ bundlePath: string }>();
    const bundle = JSON.parse(fs.readFileSync(exported.bundlePath, 'utf8')) as { log: { divergence: { seq: number; writtenBy: WriterStamp } | null; writers: unknown[] } };
    expect(bundle.log.divergence).toMatchObject({ seq: target.seq, writtenBy: OLD, readBy: CURRENT });
    expect(bundle.log.writers).toEqual([{ writer: OLD, fromSeq: 1, toSeq: before }]);
    expect(recordCount(root, 'd1')).toBe(before);
  }, 180_000);

  it('records each new writer of a run once, and replay and the evidence say which version wrote which records', async () => {
    const temp = tempRoot('ms-history-');
    roots.push(temp);
    temp.workspace('lab', TWO_TASKS);
    const { root } = temp;
    expect((await runCli(['init', 'lab', '--run-id', 'w1'], { root })).code).toBe(0);
    expect((await runCli(['step', 'w1'], { root })).code).toBe(0);
    const log = SqliteEventLog.open(logFile(root));
    try {
      await pauseAs(OLD, log, 'w1');
    } finally {
      await log.close();
    }
    expect((await runCli(['resume', 'w1'], { root })).code).toBe(0);
    const loop = await runCli(['loop', 'w1'], { root });
    expect(loop.code, loop.stderr).toBe(0);
    // A later host of the same version adds no HOST.VERSION: the log grows with changes.
    const settled = recordCount(root, 'w1');
    expect((await runCli(['step', 'w1'], { root })).code).toBe(0);
    expect(recordCount(root, 'w1')).toBe(settled);

    const entries = (await runCli(['replay', 'w1', '--json'], { root })).json<Entry[]>();
    const { oldFrom, backFrom } = expectThreeStretches(entries);
    expectWriterLines((await runCli(['replay', 'w1'], { root })).stdout);
    expect((await runCli(['replay', 'w1', '--verify'], { root })).code).toBe(0);

    const exported = (await runCli(['export-evidence', 'w1', '--json'], { root })).json<{ bundlePath: string; reportPath: string }>();
    const bundle = JSON.parse(fs.readFileSync(exported.bundlePath, 'utf8')) as { log: { writers: unknown[]; lastSeq: number } };
    expect(bundle.log.writers).toEqual([
      { writer: CURRENT, fromSeq: 1, toSeq: oldFrom - 1 },
      { writer: OLD, fromSeq: oldFrom, toSeq: backFrom - 1 },
      { writer: CURRENT, fromSeq: backFrom, toSeq: bundle.log.lastSeq },
    ]);
    expect(fs.readFileSync(exported.reportPath, 'utf8')).toContain(`- Records ${oldFrom}–${backFrom - 1} written by MatterStack ${OLD.version} (machines ${OLD.machines})`);
  }, 180_000);

  it('a run logged before version records still hosts; its first new writer is recorded where its records begin', async () => {
    const temp = tempRoot('ms-history-');
    roots.push(temp);
    temp.workspace('lab', TWO_TASKS);
    const { root } = temp;
    expect((await runCli(['init', 'lab', '--run-id', 'src'], { root })).code).toBe(0);
    // The same creation as an older MatterStack logged it: no HOST.VERSION record.
    const log = SqliteEventLog.open(logFile(root));
    try {
      const records = [];
      for await (const record of log.readRun('src')) {
        if (record.type === HOST_VERSION_TYPE) continue;
        const { runId: _r, seq: _s, position: _p, schemaVersion: _v, ...event } = record;
        records.push({ ...event, eventId: `${event.eventId}-old` });
      }
      await log.append('o1', records, 0);
    } finally {
      await log.close();
    }
    const plain = await runCli(['replay', 'o1'], { root });
    expect(plain.stdout).not.toContain('-- written by');
    expect(plain.stdout.split('\n')[0]).toMatch(/^#1 \S+ run RUN\.CREATED/);

    const loop = await runCli(['loop', 'o1'], { root });
    expect(loop.code, loop.stderr).toBe(0);
    const entries = (await runCli(['replay', 'o1', '--json'], { root })).json<Entry[]>();
    expect(entries.filter((e) => e.type === HOST_VERSION_TYPE).map((e) => [e.seq, e.writtenBy])).toEqual([[3, CURRENT]]);
    expect(entries.slice(0, 2).map((e) => e.writtenBy)).toEqual([null, null]);
    const text = (await runCli(['replay', 'o1'], { root })).stdout;
    expect(text.split('\n').filter((l) => l.startsWith('-- written by'))).toEqual([
      '-- written by an unrecorded MatterStack version (logged before version records) --',
      `-- written by MatterStack ${CURRENT.version} (machines ${CURRENT.machines}) --`,
    ]);
    expect((await runCli(['replay', 'o1', '--verify'], { root })).code).toBe(0);
  }, 180_000);
});

describe('history across versions on JetStream (worker process, CLI users)', () => {
  let server: NatsServerHandle;
  let worker: RunningCli;
  let root: string;
  const as = (who: { user: string; pass: string }): CliOptions => ({ root, env: { MATTERSTACK_NATS_URL: server.url, MATTERSTACK_NATS_USER: who.user, MATTERSTACK_NATS_PASS: who.pass } });
  const scientist = (): CliOptions => as(server.users.scientist);
  const orchestratorLog = (): Promise<JetStreamEventLog> => JetStreamEventLog.connect({ servers: server.url, ...server.users.orchestrator });

  /** Starts a `matterstack worker` process and waits until it is ready. */
  async function startWorker(id: string): Promise<void> {
    const { orchestrator } = server.users;
    const url = server.url.replace('nats://', `nats://${orchestrator.user}:${orchestrator.pass}@`);
    const started = startCli(['worker', '--nats', url, '--id', id, '--lease-ttl-ms', '3000', '--poll-ms', '100'], { root });
    worker = started;
    await vi.waitFor(() => {
      expect(started.child.exitCode, started.output().stderr).toBeNull();
      expect(started.output().stdout, 'the worker to be ready').toContain(`ready ${id}`);
    }, { timeout: 60_000, interval: 100 });
  }

  beforeAll(async () => {
    server = await startNatsServer();
    root = makeWorkspace(GATE_CAMPAIGN, 'ms-history-nats-');
    await startWorker('hw1');
  }, 120_000);

  afterAll(async () => {
    if (worker !== undefined && worker.child.exitCode === null) {
      worker.child.kill('SIGTERM');
      await worker.done;
    }
    await server?.stop();
    if (root !== undefined) fs.rmSync(root, { recursive: true, force: true });
  });

  /** Creates a run through the worker and waits until its gate waits. */
  async function gateWaiting(runId: string): Promise<void> {
    expect((await runCli(['init', 'lab', '--run-id', runId], scientist())).code).toBe(0);
    await vi.waitFor(async () => {
      const read = await runCli(['replay', runId, '--json'], scientist());
      expect(read.code, read.stderr).toBe(0);
      expect(read.json<Entry[]>().some((e) => e.actor === 'gate-a1' && e.type === 'ATTEMPT.SUBMITTED'), 'the gate to wait').toBe(true);
    }, { timeout: 30_000, interval: 100 });
  }

  it('the worker, an older host and a command each record their writer once; replay and the evidence show who wrote what', async () => {
    await gateWaiting('j1');
    const log = await orchestratorLog();
    try {
      await pauseAs(OLD, log, 'j1');
    } finally {
      await log.close();
    }
    const resume = await runCli(['resume', 'j1'], scientist());
    expect(resume.code, resume.stderr).toBe(0);
    const approve = await runCli(['approve', 'j1', 'gate'], scientist());
    expect(approve.code, approve.stderr).toBe(0);
    await vi.waitFor(async () => {
      const status = (await runCli(['status', 'j1', '--json'], scientist())).json<{ status: string }>();
      expect(status.status, 'the run to complete').toBe('COMPLETED');
    }, { timeout: 60_000, interval: 100 });

    const entries = (await runCli(['replay', 'j1', '--json'], scientist())).json<Entry[]>();
    const { oldFrom, backFrom } = expectThreeStretches(entries);
    expectWriterLines((await runCli(['replay', 'j1'], scientist())).stdout);

    const exported = (await runCli(['export-evidence', 'j1', '--json'], scientist())).json<{ bundlePath: string }>();
    const bundle = JSON.parse(fs.readFileSync(exported.bundlePath, 'utf8')) as { log: { writers: unknown[]; lastSeq: number } };
    expect(bundle.log.writers).toEqual([
      { writer: CURRENT, fromSeq: 1, toSeq: oldFrom - 1 },
      { writer: OLD, fromSeq: oldFrom, toSeq: backFrom - 1 },
      { writer: CURRENT, fromSeq: backFrom, toSeq: bundle.log.lastSeq },
    ]);
  }, 240_000);

  it('a record another version decided otherwise makes the worker let the run go; commands are refused with HISTORY_DIVERGED naming it', async () => {
    await gateWaiting('j2');
    // The upgrade: the worker stops, an older writer pauses the run (by its rules the run stayed
    // waiting, with no command fact), and a worker of this version comes up.
    worker.child.kill('SIGTERM');
    await worker.done;
    const log = await orchestratorLog();
    let pauseSeq = 0;
    try {
      const time = new Date().toISOString();
      const expected = await log.lastSeq('j2');
      const result = await log.append('j2', [
        { eventId: 'old-stamp-j2', type: HOST_VERSION_TYPE, actor: 'run', time, payload: { ...OLD }, from: null, to: null, changes: [] },
        { eventId: 'old-pause-j2', type: 'CMD.PAUSE', actor: 'run', time, payload: { by: 'old-host' }, from: 'waiting', to: 'waiting', changes: [] },
      ], expected);
      pauseSeq = result.lastSeq;
    } finally {
      await log.close();
    }
    await startWorker('hw2');
    const lastSeq = pauseSeq;

    const resume = await runCli(['resume', 'j2'], scientist());
    expect(resume.code, resume.stderr).toBe(9);
    expect(resume.stderr).toContain(`its history diverges at seq ${pauseSeq} (run CMD.PAUSE): the logged state and changes differ`);
    expect(resume.stderr).toContain(`Logged by MatterStack ${OLD.version} (machines ${OLD.machines})`);
    // Hosting it (for that command, or when it scans) is refused too: the worker lets the run go.
    // (The worker logs on stderr.)
    await vi.waitFor(
      () =>
        expect(
          worker
            .output()
            .stderr.split('\n')
            .filter((line) => line.startsWith('{'))
            .map((line) => JSON.parse(line) as { runId?: string; msg?: string; err?: { code?: string } })
            .some((entry) => entry.runId === 'j2' && entry.err?.code === 'HISTORY_DIVERGED' && /run refused/.test(entry.msg ?? '')),
          'the worker logs that it lets j2 go',
        ).toBe(true),
      { timeout: 60_000, interval: 100 },
    );
    expect(worker.output().stderr).toContain(`its history diverges at seq ${pauseSeq} (run CMD.PAUSE)`);
    const verify = await runCli(['replay', 'j2', '--verify'], scientist());
    expect(verify.code).toBe(9);
    expect(verify.stdout).toContain(`written by:      MatterStack ${OLD.version} (machines ${OLD.machines})`);
    const after = await orchestratorLog();
    try {
      expect(await after.lastSeq('j2')).toBe(lastSeq);
    } finally {
      await after.close();
    }
  }, 240_000);
});
