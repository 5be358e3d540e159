import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RunStore } from '../host/run-store.ts';
import type { LiveMessage } from '../web/live-feed.ts';
import { pageWriter } from '../web/page-writer.ts';
import { startWebServer, type WebServer } from '../web/web-server.ts';
import { applyAttemptsDelta, applyRunDelta, deltaStep } from '../web/client/live-delta.ts';
import type { RunDelta } from '../web/client/live-delta.ts';
import { deltaFromWire, type WireDelta } from '../web/client/row-columns.ts';
import { runCli } from './harness/cli.ts';
import { oneWorkflowCampaign, tempRoot, type TempRoot } from './harness/workspace.ts';

// The live feed sends each run's changes (deltas), not the whole run: a page that applies them to
// what it loaded ends where a full load ends; every page gets the same message; a page that falls
// behind gets a resync instead of a queue.

interface Sse {
  events: { event: string; data: string }[];
  close(): void;
}

/** Opens `/api/live` (asking for the attempt rows of `attemptRuns`) and collects its events as they come. */
function openLive(server: WebServer, attemptRuns: string[] = []): Promise<Sse> {
  const query = attemptRuns.map((runId) => `attempts=${encodeURIComponent(runId)}`).join('&');
  return new Promise((resolve, reject) => {
    const events: Sse['events'] = [];
    const req = http.get({ host: '127.0.0.1', port: server.port, path: query === '' ? '/api/live' : `/api/live?${query}`, headers: { 'x-matterstack-token': server.token } }, (res) => {
      let buffer = '';
      res.setEncoding('utf8').on('data', (chunk: string) => {
        buffer += chunk;
        const blocks = buffer.split('\n\n');
        buffer = blocks.pop() ?? '';
        for (const block of blocks) {
          const lines = block.split('\n');
          const event = lines.find((l) => l.startsWith('event:'))?.slice(6).trim();
          const data = lines.filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
          if (event !== undefined) events.push({ event, data });
        }
      });
      resolve({ events, close: () => req.destroy() });
    });
    req.on('error', reject);
  });
}

async function getJson<T>(server: WebServer, path: string): Promise<T> {
  const response = await fetch(`http://127.0.0.1:${server.port}/api${path}`, { headers: { 'x-matterstack-token': server.token } });
  expect(response.status, path).toBe(200);
  return (await response.json()) as T;
}

interface RunBody {
  lastSeq: number;
  status: string;
  counts: Record<string, number>;
  tasks: { id: string; status: string; attempts: number; currentAttemptId: string | null }[];
}

interface AttemptsBody {
  lastSeq: number;
  attempts: { attemptId: string; status: string; endedAt: string | null }[];
}

const FANOUT = Array.from({ length: 12 }, (_, i) => ({ id: `screen_${i}`, command: 'true' }));

describe('the web view\'s live feed sends deltas', { timeout: 120_000 }, () => {
  let temp: TempRoot;
  let store: RunStore;
  let server: WebServer;
  let runId: string;

  beforeAll(async () => {
    temp = tempRoot('ms-webdelta-');
    temp.workspace('lab', oneWorkflowCampaign([...FANOUT, { id: 'gather', command: 'true', dependencies: FANOUT.map((t) => t.id) }]));
    runId = (await runCli(['init', 'lab', '--json'], { root: temp.root })).json<{ runId: string }>().runId;
    store = await RunStore.open({ root: temp.root, mustExist: true });
    server = await startWebServer({ store, host: '127.0.0.1', port: 0, user: 'alice', send: null, onError: (error) => { throw error; } });
  });
  afterAll(async () => {
    await server?.close();
    await store?.close();
    temp?.cleanup();
  });

  it('a page applying the deltas to what it loaded ends with what a full load shows; pages asking alike get the same bytes, and attempt rows go only to a page that asks', async () => {
    const [first, second, dagOnly] = await Promise.all([openLive(server, [runId]), openLive(server, [runId]), openLive(server)]);
    await vi.waitFor(() => expect(first.events[0]?.event).toBe('hello'));
    let run = await getJson<RunBody>(server, `/runs/${runId}`);
    let attempts = await getJson<AttemptsBody>(server, `/runs/${runId}/attempts`);
    const loaded = run.lastSeq;

    const loop = await runCli(['loop', runId], { root: temp.root });
    expect(loop.code, loop.stderr).toBe(0);
    const final = await getJson<RunBody>(server, `/runs/${runId}`);
    const deltasOf = (sse: Sse): RunDelta<RunBody['tasks'][number], AttemptsBody['attempts'][number]>[] =>
      sse.events.filter((e) => e.event === 'delta').flatMap((e) => (JSON.parse(e.data) as { deltas: WireDelta[] }).deltas.map((d) => deltaFromWire(d) as RunDelta<RunBody['tasks'][number], AttemptsBody['attempts'][number]>));
    await vi.waitFor(() => expect(deltasOf(first).at(-1)?.toSeq).toBe(final.lastSeq), { timeout: 20_000 });

    const deltas = deltasOf(first);
    expect(deltas.length).toBeGreaterThan(0);
    expect(deltas[0]?.fromSeq).toBe(loaded);
    deltas.slice(1).forEach((d, i) => expect(d.fromSeq, 'each delta starts where the one before ended').toBe(deltas[i]?.toSeq));
    for (const delta of deltas) {
      expect(deltaStep(run.lastSeq, delta)).toBe('apply');
      run = applyRunDelta(run, delta);
      attempts = applyAttemptsDelta(attempts, delta);
    }
    expect(run.status).toBe('COMPLETED');
    expect({ status: run.status, counts: run.counts, tasks: run.tasks }).toEqual({ status: final.status, counts: final.counts, tasks: final.tasks });
    expect(attempts).toEqual(await getJson<AttemptsBody>(server, `/runs/${runId}/attempts`));

    await vi.waitFor(() => expect(second.events.length).toBe(first.events.length));
    expect(second.events.slice(1)).toEqual(first.events.slice(1));
    await vi.waitFor(() => expect(dagOnly.events.length).toBe(first.events.length));
    const bare = deltasOf(dagOnly);
    expect(bare.every((d) => d.attempts === undefined), 'a page that did not ask gets no attempt rows').toBe(true);
    expect(bare.map(({ attempts: _attempts, ...rest }) => rest)).toEqual(deltas.map(({ attempts: _attempts, ...rest }) => rest));
    first.close();
    second.close();
    dagOnly.close();
  });

  it('a delta carries only the rows its records touched: a pause carries no task', async () => {
    const runId2 = (await runCli(['init', 'lab', '--json'], { root: temp.root })).json<{ runId: string }>().runId;
    const live = await openLive(server, [runId2]);
    const deltasOf2 = (): RunDelta[] => live.events.filter((e) => e.event === 'delta').flatMap((e) => (JSON.parse(e.data) as { deltas: WireDelta[] }).deltas.map(deltaFromWire)).filter((d) => d.runId === runId2);
    // The init's own records (its planned tasks) come first, unless they were passed on before this page connected.
    const created = (await getJson<RunBody>(server, `/runs/${runId2}`)).lastSeq;
    await vi.waitFor(() => expect(live.events[0]?.event).toBe('hello'));
    const seen = (JSON.parse(live.events[0]?.data ?? '{}') as { seen: Record<string, number> }).seen[runId2] ?? 0;
    if (seen < created) await vi.waitFor(() => expect(deltasOf2().at(-1)?.toSeq).toBe(created), { timeout: 20_000 });
    const pause = await runCli(['pause', runId2], { root: temp.root });
    expect(pause.code, pause.stderr).toBe(0);
    const delta = await vi.waitFor(() => {
      const found = deltasOf2().find((d) => d.fromSeq === created);
      if (found === undefined) throw new Error('no delta for the pause yet');
      return found;
    }, { timeout: 20_000 });
    expect(delta.run.status).toBe('PAUSED');
    expect(delta.tasks).toEqual([]);
    expect(delta.attempts).toEqual([]);
    live.close();
  });

  it('a page that connects later hears, in its hello, each run\'s last seq passed on (so it reloads what it loaded before)', async () => {
    const live = await openLive(server);
    await vi.waitFor(() => expect(live.events[0]?.event).toBe('hello'));
    const { seen } = JSON.parse(live.events[0]?.data ?? '{}') as { seen: Record<string, number> };
    expect(seen[runId]).toBe((await getJson<RunBody>(server, `/runs/${runId}`)).lastSeq);
    expect(deltaStep(0, { fromSeq: seen[runId] as number, toSeq: seen[runId] as number })).toBe('reload');
    live.close();
  });
});

describe('pageWriter: a page still taking a message misses the next ones and then gets one resync', () => {
  it('drops what comes during a write and names the missed runs once it is written', async () => {
    const written: LiveMessage[] = [];
    const finish: (() => void)[] = [];
    const send = pageWriter((message) => {
      written.push(message);
      return new Promise<void>((resolve) => finish.push(resolve));
    });
    const delta = (runIds: string[]): LiveMessage => ({ event: 'delta', data: JSON.stringify({ runIds }), runIds });
    send(delta(['r1']));
    send(delta(['r2']));
    send(delta(['r1', 'r3']));
    expect(written.map((m) => m.event)).toEqual(['delta']);
    finish.shift()?.();
    await vi.waitFor(() => expect(written.length).toBe(2));
    expect(written[1]).toMatchObject({ event: 'resync', runIds: ['r2', 'r1', 'r3'] });
    expect(JSON.parse(written[1]?.data ?? '{}')).toEqual({ runs: ['r2', 'r1', 'r3'] });
    finish.shift()?.();
    await new Promise((resolve) => setImmediate(resolve));
    send(delta(['r4']));
    expect(written.at(-1)).toMatchObject({ event: 'delta', runIds: ['r4'] });
  });
});
