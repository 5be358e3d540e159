import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { launchChromium } from '../harness/chromium.ts';
import { STATUS_COLOURS } from '../web/client/status-colours.ts';
import { runCli, startCli, type RunningCli } from './harness/cli.ts';
import { oneWorkflowCampaign, tempRoot, type TempRoot } from './harness/workspace.ts';

// The web view in a real headless Chromium (Debian's), against real `matterstack ui`, `init` and `loop` processes.

const XSS = '<img src=x onerror="window.__xss=1">';

const SMALL = `
export function plan(state) {
  return state === null ? { tasks: [
    { id: 'xss', command: ${JSON.stringify(`echo '${XSS}'; echo '${XSS}' >&2`)} },
    { id: 'b', command: 'true', dependencies: ['xss'] },
    { id: 'bad', command: 'exit 3', allowFailure: true },
  ] } : null;
}
export function analyze(state, results) { return { note: ${JSON.stringify(XSS)}, seen: Object.keys(results) }; }
`;

const GATED = oneWorkflowCampaign([
  { id: 'gate', kind: 'gate', message: `Run it? ${XSS}`, inputSchema: { type: 'object', properties: { budget: { type: 'number' } } } },
  { id: 'after', command: 'true', dependencies: ['gate'] },
]);

interface StatusJson {
  status: string;
  tasks: { id: string; status: string }[];
}

/** Starts `matterstack ui` and resolves with it and the URL it printed. */
async function startUi(root: string, args: string[]): Promise<{ cli: RunningCli; url: string }> {
  const cli = startCli(['ui', ...args], { root });
  const url = await vi.waitFor(
    () => {
      const line = cli.output().stdout.split('\n')[0] ?? '';
      if (!line.startsWith('http://')) throw new Error(`ui printed no URL yet: ${JSON.stringify(cli.output())}`);
      return line;
    },
    { timeout: 60_000, interval: 100 },
  );
  return { cli, url };
}

async function initRun(root: string, workspace: string): Promise<string> {
  const init = await runCli(['init', workspace, '--json'], { root });
  expect(init.code, init.stderr).toBe(0);
  return init.json<{ runId: string }>().runId;
}

describe('matterstack ui in a headless Chromium', { timeout: 150_000 }, () => {
  let temp: TempRoot;
  let browser: Browser;
  let ui: { cli: RunningCli; url: string };
  let readOnlyUi: { cli: RunningCli; url: string };
  let small: string;
  let napper: string;
  let napLoop: ReturnType<typeof runCli>;
  const loops: RunningCli[] = [];

  beforeAll(async () => {
    temp = tempRoot('ms-webui-');
    temp.workspace('small', SMALL);
    temp.workspace('gated', GATED);
    temp.workspace('slow', oneWorkflowCampaign([{ id: 'slow', command: 'while [ ! -f go ]; do sleep 0.05; done' }, { id: 'next', command: 'true', dependencies: ['slow'] }]));
    temp.workspace('napper', oneWorkflowCampaign([{ id: 'first', command: 'true' }, { id: 'nap', command: 'sleep 11', dependencies: ['first'] }]));
    temp.workspace('held', oneWorkflowCampaign([{ id: 'long', command: 'while [ ! -f go ]; do sleep 0.05; done' }, { id: 'after', command: 'true', dependencies: ['long'] }]));
    temp.workspace('relay', oneWorkflowCampaign([{ id: 'hold', command: 'while [ ! -f go ]; do sleep 0.05; done' }, { id: 'then', command: 'true', dependencies: ['hold'] }]));
    small = await initRun(temp.root, 'small');
    // The napper's run (an 11 s task: an idle stretch the timeline squeezes) goes on while the other tests run.
    napper = await initRun(temp.root, 'napper');
    napLoop = runCli(['loop', napper], { root: temp.root });
    const [loop] = await Promise.all([runCli(['loop', small], { root: temp.root }), launchChromium().then((b) => (browser = b))]);
    expect(loop.code, loop.stderr).toBe(0);
    [ui, readOnlyUi] = await Promise.all([startUi(temp.root, ['--by', 'web-tester']), startUi(temp.root, ['--read-only'])]);
  }, 150_000);

  afterAll(async () => {
    await browser?.close();
    for (const cli of [ui?.cli, readOnlyUi?.cli, ...loops]) cli?.child.kill('SIGINT');
    await Promise.all([ui?.cli.done, readOnlyUi?.cli.done, ...loops.map((l) => l.done), napLoop]);
    temp?.cleanup();
  });

  async function openPage(url: string, hash = ''): Promise<Page> {
    const page = await browser.newPage();
    await page.goto(`${url}${hash}`);
    return page;
  }

  async function statusOf(runId: string): Promise<StatusJson> {
    return (await runCli(['status', runId, '--json'], { root: temp.root })).json<StatusJson>();
  }

  it('the runs page lists every run with its status and workspace, and filters by workspace', async () => {
    const slow = await initRun(temp.root, 'slow');
    const page = await openPage(ui.url);
    await expect.poll(() => page.locator('.run-row').count(), { timeout: 20_000 }).toBe(3);
    expect(await page.locator(`.run-row[data-run-id="${small}"]`).getAttribute('data-status')).toBe('COMPLETED');
    expect(await page.locator(`.run-row[data-run-id="${slow}"]`).getAttribute('data-status')).toBe('PENDING');
    await page.selectOption('select[name=workspace]', 'small');
    await expect.poll(() => page.locator('.run-row').count(), { timeout: 20_000 }).toBe(1);
    expect(await page.locator('.run-row').getAttribute('data-run-id')).toBe(small);
    await page.selectOption('select[name=workspace]', '');
    await page.selectOption('select[name=status]', 'PENDING');
    await expect.poll(() => page.locator('.run-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-run-id'))), { timeout: 20_000 }).toEqual([slow]);
    await page.selectOption('select[name=status]', 'COMPLETED');
    // The napper's run may have completed meanwhile; the pending one may not show.
    await expect.poll(() => page.locator('.run-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-run-id'))), { timeout: 20_000 }).toContain(small);
    expect(await page.locator('.run-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-status')))).not.toContain('PENDING');
    expect(await page.locator(`.run-row[data-run-id="${slow}"]`).count()).toBe(0);
    await page.selectOption('select[name=status]', 'FAILED');
    await expect.poll(() => page.locator('.runs-page .muted').last().textContent(), { timeout: 20_000 }).toBe('No runs match.');
    expect(await page.locator('.run-row').count()).toBe(0);
    await page.close();
  });

  it('a run page shows one node per task, coloured as `status` says', async () => {
    const status = await statusOf(small);
    const page = await openPage(ui.url, `#/run/${small}`);
    await expect.poll(() => page.locator('.task-node').count(), { timeout: 20_000 }).toBe(status.tasks.length);
    for (const task of status.tasks) {
      const node = page.locator(`.task-node[data-task-id="${task.id}"]`);
      expect(await node.getAttribute('data-status')).toBe(task.status);
      expect(await node.locator('rect').getAttribute('fill')).toBe(STATUS_COLOURS[task.status]);
    }
    expect(new Set(status.tasks.map((t) => t.status))).toEqual(new Set(['COMPLETED', 'FAILED']));
    await page.close();
  });

  it('markup a campaign wrote (a task\'s stdout, the campaign state) stays text: nothing runs, no element is made', async () => {
    const page = await openPage(ui.url, `#/run/${small}`);
    await page.locator('.task-node[data-task-id="xss"]').click();
    await expect.poll(() => page.locator('pre.log-stdout').textContent(), { timeout: 20_000 }).toContain(XSS);
    await page.locator('[data-tab=state]').click();
    await expect.poll(() => page.locator('.states').textContent(), { timeout: 20_000 }).toContain(JSON.stringify(XSS));
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.evaluate('window.__xss')).toBeUndefined();
    await page.close();
  });

  it('a task completing shows on the open page (live, through the server\'s event stream)', async () => {
    const slow = (await runCli(['list', '--json', '--workspace', 'slow'], { root: temp.root })).json<{ runId: string }[]>()[0]?.runId as string;
    const loop = startCli(['loop', slow], { root: temp.root });
    loops.push(loop);
    const page = await openPage(ui.url, `#/run/${slow}`);
    const node = page.locator('.task-node[data-task-id="slow"]');
    await expect.poll(() => node.getAttribute('data-status'), { timeout: 60_000 }).toBe('RUNNING');
    fs.writeFileSync(path.join(temp.root, 'slow', 'runs', slow, 'attempts', 'slow', 'slow-a1', 'go'), '');
    await expect.poll(() => node.getAttribute('data-status'), { timeout: 30_000, interval: 50 }).toBe('COMPLETED');
    expect((await loop.done).code).toBe(0);
    await expect.poll(() => page.locator('.run-page').getAttribute('data-status'), { timeout: 20_000 }).toBe('COMPLETED');
    await page.close();
  });

  it('approving a gate on the page (comment and data from its inputSchema) lets the run continue, recorded as the ui\'s user', async () => {
    const gated = await initRun(temp.root, 'gated');
    const loop = startCli(['loop', gated], { root: temp.root });
    loops.push(loop);
    const page = await openPage(ui.url, `#/run/${gated}`);
    const gate = page.locator('.task-node[data-task-id="gate"]');
    await expect.poll(() => gate.getAttribute('data-status'), { timeout: 60_000 }).toBe('WAITING_EXTERNAL');
    await gate.click();
    await expect.poll(() => page.locator('.gate-message').textContent(), { timeout: 20_000 }).toBe(`Run it? ${XSS}`);
    await page.fill('.gate-form input[name=comment]', 'go ahead');
    await page.fill('.gate-form input[name=data-budget]', '42');
    await page.click('.gate-form button[data-action="CMD.APPROVE"]');
    await expect.poll(() => page.locator('.gate-form .reply').textContent(), { timeout: 20_000 }).toMatch(/^accepted \(seq \d+\)$/);
    const done = await loop.done;
    expect(done.code, done.stderr).toBe(0);
    expect((await statusOf(gated)).status).toBe('COMPLETED');
    const attempts = (await runCli(['attempts', gated, 'gate', '--json'], { root: temp.root })).json<{ decision: unknown }[]>();
    expect(attempts[0]?.decision).toMatchObject({ verb: 'approved', by: 'web-tester', comment: 'go ahead', data: { budget: 42 } });
    await expect.poll(() => page.locator('.run-page').getAttribute('data-status'), { timeout: 20_000 }).toBe('COMPLETED');
    expect(await page.locator('img').count()).toBe(0);
    await page.close();
  });

  it('a refused command shows its reason on the page', async () => {
    const page = await openPage(ui.url, `#/run/${small}`);
    await page.click('.run-actions button[data-action="CMD.RESUME"]');
    await expect.poll(() => page.locator('.run-actions .reply').textContent(), { timeout: 20_000 }).toMatch(/^refused \[[A-Z_]+\]: .+/);
    await page.close();
  });

  it('the history scrubber at seq N shows the task statuses `replay --at N` shows', async () => {
    const page = await openPage(ui.url, `#/run/${small}`);
    await page.locator('[data-tab=history]').click();
    const slider = page.locator('.scrubber-input');
    await expect.poll(() => slider.getAttribute('max'), { timeout: 20_000 }).not.toBeNull();
    const last = Number(await slider.getAttribute('max'));
    for (const n of [Math.floor(last / 3), Math.floor((2 * last) / 3)]) {
      await slider.fill(String(n));
      const replayed = (await runCli(['replay', small, '--at', String(n), '--json'], { root: temp.root })).json<{ run: { status: string; tasks: { id: string; status: string }[] } }>();
      const view = page.locator(`.history-state[data-at-seq="${n}"]`);
      await expect.poll(() => view.count(), { timeout: 20_000 }).toBe(1);
      const shown = await view.locator('.task-node').evaluateAll((nodes) => nodes.map((n) => ({ id: n.getAttribute('data-task-id'), status: n.getAttribute('data-status') })));
      expect(shown.sort((a, b) => String(a.id).localeCompare(String(b.id)))).toEqual(replayed.run.tasks.map(({ id, status }) => ({ id, status })).sort((a, b) => a.id.localeCompare(b.id)));
      expect(await view.locator('.badge').first().textContent()).toBe(replayed.run.status);
    }
    await page.close();
  });

  it('without the token the server answers 401', async () => {
    const page = await browser.newPage();
    const response = await page.goto(ui.url.replace(/\?token=.*$/, ''));
    expect(response?.status()).toBe(401);
    await page.close();
  });

  it('a read-only page has no action buttons, and its server refuses commands', async () => {
    const page = await openPage(readOnlyUi.url, `#/run/${small}`);
    await expect.poll(() => page.locator('.task-node').count(), { timeout: 20_000 }).toBe(3);
    await page.locator('.task-node[data-task-id="xss"]').click();
    await expect.poll(() => page.locator('.panel h2').count(), { timeout: 20_000 }).toBe(1);
    expect(await page.locator('button.action').count()).toBe(0);
    // In the page, with its token: the server, not only the page, refuses (a string: no DOM types here).
    const reply = await page.evaluate(`(async () => {
      const r = await fetch('/api/runs/${small}/commands', { method: 'POST', headers: { 'x-matterstack-token': document.body.dataset.token, 'content-type': 'application/json' }, body: '{"type":"CMD.REVIVE"}' });
      return { status: r.status, body: await r.json() };
    })()`);
    expect(reply).toMatchObject({ status: 403, body: { accepted: false, code: 'READ_ONLY' } });
    await page.close();
  });

  it('the timeline: one lane per task under its operator, each attempt\'s wait and run drawn apart, an idle stretch squeezed and labelled with its real length', async () => {
    const done = await napLoop;
    expect(done.code, done.stderr).toBe(0);
    type Shown = { attemptId: string; taskId: string; operatorKey: string; submittedAt: string; endedAt: string };
    const attempts: Shown[] = [];
    for (const task of ['first', 'nap']) attempts.push(...(await runCli(['attempts', napper, task, '--json'], { root: temp.root })).json<Shown[]>());
    const page = await openPage(ui.url, `#/run/${napper}`);
    await page.locator('[data-tab=timeline]').click();
    await expect.poll(() => page.locator('.timeline .lane').evaluateAll((lanes) => lanes.map((l) => l.getAttribute('data-lane'))), { timeout: 20_000 }).toEqual(['first', 'nap']);
    expect(await page.locator('.timeline .lane-group').allTextContents()).toEqual([...new Set(attempts.map((a) => a.operatorKey))]);
    for (const attempt of attempts) {
      const bar = page.locator(`.attempt-bar[data-attempt-id="${attempt.attemptId}"]`);
      const wait = await bar.locator('rect.wait').evaluate((r) => ({ x: Number(r.getAttribute('x')), width: Number(r.getAttribute('width')), title: r.textContent }));
      const run = await bar.locator('rect.run').evaluate((r) => ({ x: Number(r.getAttribute('x')), title: r.textContent }));
      expect(wait.x + wait.width, `${attempt.attemptId}: the run starts where the wait ends`).toBeLessThanOrEqual(run.x + 1);
      expect(wait.title).toContain('waited');
      expect(run.title).toContain('COMPLETED, ran');
    }
    const nap = attempts.find((a) => a.taskId === 'nap');
    const napSeconds = Math.round((Date.parse(nap?.endedAt ?? '') - Date.parse(nap?.submittedAt ?? '')) / 1000);
    expect(await page.locator('.timeline .squeeze text').allTextContents()).toEqual([`⋯ ${napSeconds} s`]);
    await page.close();
  });

  it('the run\'s and the task\'s buttons (pause, resume, cancel attempt, rerun, cancel) send the CLI\'s commands, recorded as the ui\'s user', async () => {
    const held = await initRun(temp.root, 'held');
    const loop = startCli(['loop', held], { root: temp.root });
    loops.push(loop);
    const page = await openPage(ui.url, `#/run/${held}`);
    page.on('dialog', (dialog) => void dialog.accept());
    const long = page.locator('.task-node[data-task-id="long"]');
    await expect.poll(() => long.getAttribute('data-status'), { timeout: 60_000 }).toBe('RUNNING');
    const runReply = (action: string) => page.locator(`.run-actions button[data-action="${action}"] + .reply`);
    for (const action of ['CMD.PAUSE', 'CMD.RESUME']) {
      await page.click(`.run-actions button[data-action="${action}"]`);
      await expect.poll(() => runReply(action).textContent(), { timeout: 20_000 }).toMatch(/^accepted \(seq \d+\)$/);
    }
    await long.click();
    const cancelAttempt = page.locator('.panel tr[data-attempt-id="long-a1"] button[data-action="CMD.CANCEL_ATTEMPT"]');
    await cancelAttempt.click();
    await expect.poll(() => page.locator('.panel tr[data-attempt-id="long-a1"] .badge').textContent(), { timeout: 30_000 }).toBe('CANCELLED');
    await page.click('.panel button[data-action="CMD.RERUN"]');
    await expect.poll(() => page.locator('.panel button[data-action="CMD.RERUN"] + .reply').textContent(), { timeout: 20_000 }).toMatch(/^accepted \(seq \d+\)$/);
    // The cancelled attempt failed the run, which ended its loop; the rerun makes the task to do again.
    await expect.poll(() => long.getAttribute('data-status'), { timeout: 30_000 }).toBe('PENDING');
    await page.click('.run-actions button[data-action="CMD.CANCEL"]');
    await expect.poll(() => page.locator('.run-page').getAttribute('data-status'), { timeout: 30_000 }).toBe('CANCELLED');
    expect((await loop.done).code).not.toBeNull();
    const commands = (await page.evaluate(`fetch('/api/runs/${held}/commands', { headers: { 'x-matterstack-token': document.body.dataset.token } }).then((r) => r.json())`)) as { verb: string; accepted: boolean; by?: string }[];
    expect(commands.map(({ verb, accepted, by }) => ({ verb, accepted, by }))).toEqual(
      ['pause', 'resume', 'cancel-attempt', 'rerun', 'cancel'].map((verb) => ({ verb, accepted: true, by: 'web-tester' })),
    );
    await page.close();
  });

  it('attempt rows come only while a tab shows the timeline: the tab holding the browser\'s one stream asks for them for it, live, and stops when it leaves the timeline', async () => {
    const relay = await initRun(temp.root, 'relay');
    const loop = startCli(['loop', relay], { root: temp.root });
    loops.push(loop);
    const context = await browser.newContext();
    // Each EventSource the tabs open, by URL (a string: this file is compiled without the DOM's types).
    await context.addInitScript(`
      window.__streams = [];
      const Source = window.EventSource;
      window.EventSource = class extends Source { constructor(url, init) { super(url, init); window.__streams.push(String(url)); } };
    `);
    const dag = await context.newPage();
    await dag.goto(`${ui.url}#/run/${relay}`);
    const hold = dag.locator('.task-node[data-task-id="hold"]');
    await expect.poll(() => hold.getAttribute('data-status'), { timeout: 60_000 }).toBe('RUNNING');
    const streams = async (): Promise<string[]> => [...((await dag.evaluate('window.__streams')) as string[]), ...((await timeline.evaluate('window.__streams')) as string[])];
    const timeline = await context.newPage();
    await timeline.goto(`${ui.url}#/run/${relay}`);
    expect(await streams(), 'a page showing the DAG asks for no attempts').toEqual(['/api/live']);
    const attemptRequests: string[] = [];
    timeline.on('request', (request) => request.url().includes('/attempts') && attemptRequests.push(request.url()));
    await timeline.locator('[data-tab=timeline]').click();
    await expect.poll(streams, { timeout: 20_000 }).toEqual(['/api/live', `/api/live?attempts=${relay}`]);
    await expect.poll(() => timeline.locator('.timeline .lane').evaluateAll((lanes) => lanes.map((l) => l.getAttribute('data-lane'))), { timeout: 20_000 }).toEqual(['hold']);
    const loads = attemptRequests.length;
    fs.writeFileSync(path.join(temp.root, 'relay', 'runs', relay, 'attempts', 'hold', 'hold-a1', 'go'), '');
    await expect.poll(() => timeline.locator('.timeline .lane').evaluateAll((lanes) => lanes.map((l) => l.getAttribute('data-lane'))), { timeout: 30_000 }).toEqual(['hold', 'then']);
    expect((await loop.done).code).toBe(0);
    await expect.poll(() => timeline.locator('.attempt-bar rect.run').evaluateAll((bars) => bars.map((b) => b.textContent?.includes('COMPLETED'))), { timeout: 20_000 }).toEqual([true, true]);
    expect(attemptRequests.length, 'the new attempts came with the deltas, not by loading the timeline again').toBe(loads);
    await timeline.locator('[data-tab=dag]').click();
    await expect.poll(() => dag.evaluate('window.__streams.at(-1)'), { timeout: 20_000 }).toBe('/api/live');
    await context.close();
  });
});
