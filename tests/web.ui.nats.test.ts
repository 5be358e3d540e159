import fs from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { launchChromium } from '../harness/chromium.ts';
import { startNatsServer, type NatsServerHandle, type NatsUser } from '../harness/nats-server.ts';
import { runCli, startCli, type CliResult, type RunningCli } from './harness/cli.ts';
import { GATE_CAMPAIGN, makeWorkspace } from './nats-fixtures/workspace.ts';

// `matterstack ui --nats`: the page on the JetStream log of a run a `matterstack worker` hosts, in a
// real headless Chromium. It acts as its NATS user: the scientist approves from the page; the
// viewer, who may not read the log, gets a read-only page of what a worker tells it.

let server: NatsServerHandle;
let root: string;
let browser: Browser;
/** The viewer's run page, left open by the first test: the second checks it follows the run live. */
let viewerPage: Page | undefined;
const started: RunningCli[] = [];

function env(who: NatsUser): NodeJS.ProcessEnv {
  return { MATTERSTACK_NATS_URL: server.url, MATTERSTACK_NATS_USER: who.user, MATTERSTACK_NATS_PASS: who.pass };
}

function cliAs(who: NatsUser, args: string[]): Promise<CliResult> {
  return runCli(args, { root, env: env(who) });
}

/** Starts `matterstack ui` as `who` and resolves with the URL it printed. */
async function startUi(who: NatsUser): Promise<string> {
  const cli = startCli(['ui'], { root, env: env(who) });
  started.push(cli);
  return vi.waitFor(
    () => {
      if (cli.child.exitCode !== null) throw new Error(`ui exited ${cli.child.exitCode}: ${cli.output().stderr}`);
      const line = cli.output().stdout.split('\n')[0] ?? '';
      if (!line.startsWith('http://')) throw new Error('ui printed no URL yet');
      return line;
    },
    { timeout: 60_000, interval: 100 },
  );
}

async function openPage(url: string, hash = ''): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`${url}${hash}`);
  return page;
}

beforeAll(async () => {
  [server, browser] = await Promise.all([startNatsServer(), launchChromium()]);
  root = makeWorkspace(GATE_CAMPAIGN, 'ms-webui-nats-');
  const { orchestrator } = server.users;
  const url = server.url.replace('nats://', `nats://${orchestrator.user}:${orchestrator.pass}@`);
  const worker = startCli(['worker', '--nats', url, '--id', 'web1', '--lease-ttl-ms', '3000', '--poll-ms', '100'], { root });
  started.push(worker);
  await vi.waitFor(() => {
    if (worker.child.exitCode !== null) throw new Error(`worker exited ${worker.child.exitCode}: ${worker.output().stderr}`);
    expect(worker.output().stdout, 'the worker is ready').toContain('ready web1');
  }, { timeout: 30_000, interval: 100 });
  expect((await cliAs(server.users.scientist, ['init', 'lab', '--run-id', 'w1'])).code).toBe(0);
  await vi.waitFor(async () => expect((await cliAs(server.users.scientist, ['status', 'w1', '--json'])).stdout).toContain('"WAITING_EXTERNAL"'), { timeout: 60_000, interval: 200 });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  for (const cli of started) if (cli.child.exitCode === null) cli.child.kill('SIGINT');
  await Promise.all(started.map((cli) => cli.done));
  await server?.stop();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

describe('matterstack ui --nats in a headless Chromium', { timeout: 120_000 }, () => {
  it('as the viewer (who may not read the log): the runs page lists the run, its page loads its tasks, and nothing can be sent', async () => {
    const url = await startUi(server.users.viewer);
    const page = await openPage(url);
    await expect.poll(() => page.locator('.run-row[data-run-id="w1"]').getAttribute('data-status'), { timeout: 30_000 }).toBe('RUNNING');
    await page.locator('.run-row[data-run-id="w1"] a').click();
    await expect.poll(() => page.locator('.task-node[data-task-id="gate"]').getAttribute('data-status'), { timeout: 30_000 }).toBe('WAITING_EXTERNAL');
    expect(await page.locator('.task-node').count()).toBe(2);
    await page.locator('.task-node[data-task-id="gate"]').click();
    await expect.poll(() => page.locator('.gate-message').textContent(), { timeout: 20_000 }).toBe('go?');
    expect(await page.locator('button.action').count()).toBe(0);
    expect(await page.locator('header.top').textContent()).toContain('viewer · read-only');
    // Read through the worker, not the log: what only the log holds is refused, and the page says why.
    await page.locator('[data-tab=timeline]').click();
    await expect.poll(() => page.locator('.error').textContent(), { timeout: 20_000 }).toContain('may not read the event log');
    const reply = await page.evaluate(`(async () => {
      const r = await fetch('/api/runs/w1/commands', { method: 'POST', headers: { 'x-matterstack-token': document.body.dataset.token, 'content-type': 'application/json' }, body: '{"type":"CMD.PAUSE"}' });
      return { status: r.status, body: await r.json() };
    })()`);
    expect(reply).toMatchObject({ status: 403, body: { accepted: false, code: 'READ_ONLY' } });
    await page.locator('[data-tab=dag]').click();
    viewerPage = page;
  });

  it('as the scientist: the runs page lists the run, its page loads live, and an approval from the page is recorded as the scientist', async () => {
    const url = await startUi(server.users.scientist);
    const page = await openPage(url);
    await expect.poll(() => page.locator('.run-row[data-run-id="w1"]').getAttribute('data-status'), { timeout: 30_000 }).toBe('RUNNING');
    await page.locator('.run-row[data-run-id="w1"] a').click();
    const gate = page.locator('.task-node[data-task-id="gate"]');
    await expect.poll(() => gate.getAttribute('data-status'), { timeout: 30_000 }).toBe('WAITING_EXTERNAL');
    await gate.click();
    await page.fill('.gate-form input[name=comment]', 'from the page');
    await page.click('.gate-form button[data-action="CMD.APPROVE"]');
    await expect.poll(() => page.locator('.gate-form .reply').textContent(), { timeout: 20_000 }).toMatch(/^accepted \(seq \d+\)$/);
    // Live over JetStream: the page follows the worker's records to the end of the run.
    await expect.poll(() => page.locator('.run-page').getAttribute('data-status'), { timeout: 60_000 }).toBe('COMPLETED');
    expect(await page.locator('.task-node[data-task-id="work"]').getAttribute('data-status')).toBe('COMPLETED');
    // The viewer's page, open all along and never reloaded, followed too: it hears the run's log grow and asks a worker again.
    expect(viewerPage, 'the viewer test left its page open').toBeDefined();
    await expect.poll(() => viewerPage!.locator('.run-page').getAttribute('data-status'), { timeout: 20_000 }).toBe('COMPLETED');
    await expect.poll(() => viewerPage!.locator('.task-node[data-task-id="gate"]').getAttribute('data-status'), { timeout: 20_000 }).toBe('COMPLETED');
    expect(await viewerPage!.locator('.task-node[data-task-id="work"]').getAttribute('data-status')).toBe('COMPLETED');
    await viewerPage!.close();
    const attempts = await cliAs(server.users.scientist, ['attempts', 'w1', 'gate', '--json']);
    expect(attempts.json<{ decision: unknown }[]>()[0]?.decision).toMatchObject({ verb: 'approved', principal: 'scientist', comment: 'from the page' });
    await page.close();
  });
});
