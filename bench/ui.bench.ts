// The web view under load (npm run bench -- ui), on the embedded log: a real `matterstack ui` process
// watching the log a fanout-10000 run (in-process, instant operator, as bench/workloads.ts) writes.
//   - interactive: from opening a finished 10,000-task run's page to its DAG drawn (goal ≤ 2 s);
//   - lag: how long after a record is logged an open run page shows it (its time → the page's clock
//     when `data-last-seq` changes; same machine, same clock), during the run (goal ≤ 1 s);
//   - 50 pages: the run's wall time with 50 open pages on it against none (goal: within 10 %), then
//     again with their browsers confined to the least CPU share (bench/viewer-cgroup.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { ORCHESTRATOR_NODE_FLAGS } from '../cli/process-settings.ts';
import { RunStore } from '../host/run-store.ts';
import { launchChromium } from '../harness/chromium.ts';
import { viewerCgroup } from './viewer-cgroup.ts';
import { benchRoot, runWorkload, WORKLOADS } from './workloads.ts';

const BIN = fileURLToPath(new URL('../bin/matterstack.js', import.meta.url));
const WORKLOAD = WORKLOADS.find((w) => w.name === 'fanout-10000');
const PAGES = 50;
/**
 * Open pages per browser, as people's browsers each with a few tabs: one headless Chromium with
 * more than about 20 contexts starts and kills renderers without end (seen with Debian's Chromium
 * 156: 30 blank contexts in one browser took 1.7 CPU seconds a second, 5 browsers of 10 0.25).
 */
const PAGES_PER_BROWSER = 10;
/** How long the browsers settle after the last page has drawn, before the run starts. */
const SETTLE_MS = 3000;
/** `count` pages opened by `open`, ten at a time, each ten in a browser of their own (closed by the returned `close`). */
export async function openPagesInBrowsers<P>(count: number, open: (browser: Browser) => Promise<P>, afterLaunch: () => void = () => undefined): Promise<{ pages: P[]; close: () => Promise<void> }> {
  const browsers: Browser[] = [];
  const pages: P[] = [];
  try {
    while (pages.length < count) {
      const browser = await launchChromium();
      browsers.push(browser);
      afterLaunch();
      // Opened together: fifty renderers starting at once on a small machine time out, ten do not.
      pages.push(...(await Promise.all(Array.from({ length: Math.min(PAGES_PER_BROWSER, count - pages.length) }, () => open(browser)))));
    }
  } catch (error) {
    await Promise.all(browsers.map((b) => b.close()));
    throw error;
  }
  return { pages, close: async () => void (await Promise.all(browsers.map((b) => b.close()))) };
}

/** Starts `matterstack ui` on `root`; resolves with the process and its URL. */
export function startUi(root: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [...ORCHESTRATOR_NODE_FLAGS, BIN, 'ui', '--root', root], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, MATTERSTACK_NATS_URL: '' } });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('\n')) resolve({ child, url: out.split('\n')[0] as string });
    });
    child.once('exit', (code) => reject(new Error(`ui exited ${code}`)));
  });
}

/**
 * Opens run `runId`'s page, in a browser context of its own (as another person's browser: its own
 * connections and its own event stream), recording in the page each (page time, lastSeq, time of that record) it shows.
 */
async function watchRun(browser: Browser, url: string, runId: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  // Runs in the page (a string: this file is compiled without the DOM's types).
  await page.addInitScript(`
    const seen = (window.__seen = []);
    new MutationObserver(() => {
      const el = document.querySelector('.run-page');
      const seq = Number(el?.getAttribute('data-last-seq') ?? 0);
      const time = el?.getAttribute('data-seq-time') ?? '';
      if (seq > 0 && seen[seen.length - 1]?.[1] !== seq) seen.push([Date.now(), seq, time]);
    }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-last-seq'] });
  `);
  await page.goto(`${url}#/run/${runId}`, { timeout: 120_000 });
  return page;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/**
 * Runs the workload as `runId` while `pages` pages watch it, each opened and drawn (the run does not
 * exist yet: the page says so) and the browsers settled before the run starts; closes them after.
 */
async function runWatchedBy(pages: number, afterLaunch: () => void, runId: string, root: string, url: string): Promise<{ seconds: number }> {
  if (WORKLOAD === undefined) throw new Error('bench/workloads.ts has no fanout-10000');
  const crowd = await openPagesInBrowsers(pages, (b) => watchRun(b, url, runId), afterLaunch);
  try {
    await Promise.all(crowd.pages.map((p) => p.locator('.error, .run-page').first().waitFor({ timeout: 120_000 })));
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    return await runWorkload(WORKLOAD, { kind: 'sqlite' }, runId, root);
  } finally {
    await crowd.close();
  }
}

/** Runs the three measurements and prints one table. */
export async function main(): Promise<void> {
  if (WORKLOAD === undefined) throw new Error('bench/workloads.ts has no fanout-10000');
  const root = benchRoot();
  await (await RunStore.open({ root })).close(); // `ui` wants a log to exist
  const ui = await startUi(root);
  const browser = await launchChromium();
  try {
    const alone = await runWorkload(WORKLOAD, { kind: 'sqlite' }, 'bench_alone', root);

    const watcher = await watchRun(browser, ui.url, 'bench_live');
    const live = await runWorkload(WORKLOAD, { kind: 'sqlite' }, 'bench_live', root);
    await watcher.locator('.run-page[data-status="COMPLETED"]').waitFor({ timeout: 60_000 });
    const seen = (await watcher.evaluate('window.__seen')) as [number, number, string][];
    const lags = seen.filter(([, , time]) => time !== '').map(([at, , time]) => at - Date.parse(time));
    await watcher.context().close();

    const start = performance.now();
    const page = await browser.newPage();
    await page.goto(`${ui.url}#/run/bench_live`);
    await page.locator('.task-group, .task-node').first().waitFor({ timeout: 60_000 });
    const interactiveMs = performance.now() - start;
    await page.close();

    // The 50 browsers stand for the viewers' own machines: confined to the least CPU share, what is
    // left is what the pages cost the machine that runs the run (the `ui` server's side).
    const viewers = viewerCgroup();
    const confined = typeof viewers === 'string' ? viewers : await runWatchedBy(PAGES, () => viewers.confineBrowsers(), 'bench_50_confined', root, ui.url);
    // After the confined run: a closed browser's processes linger for a while, and those confined take nothing from the next.
    const crowded = await runWatchedBy(PAGES, () => undefined, 'bench_50', root, ui.url);

    const slowdown = crowded.seconds / alone.seconds - 1;
    console.log('measure                                   value     goal');
    console.log(`10,000-task run page interactive         ${(interactiveMs / 1000).toFixed(2)} s    ≤ 2 s`);
    console.log(`live lag, log → page, p50 (n=${lags.length})`.padEnd(42) + `${(percentile(lags, 50) / 1000).toFixed(2)} s    ≤ 1 s`);
    console.log(`live lag, log → page, max`.padEnd(42) + `${(Math.max(...lags) / 1000).toFixed(2)} s    ≤ 1 s`);
    console.log(`fanout-10000 wall, no page`.padEnd(42) + `${alone.seconds.toFixed(2)} s`);
    console.log(`fanout-10000 wall, ${PAGES} pages open`.padEnd(42) + `${crowded.seconds.toFixed(2)} s    ≤ +10 %`);
    console.log(`slowdown with ${PAGES} pages`.padEnd(42) + `${(slowdown * 100).toFixed(1)} %`);
    if (typeof confined === 'string') console.log(`${PAGES} pages, browsers confined: not measured (${confined})`);
    else {
      console.log(`fanout-10000 wall, ${PAGES} pages, confined`.padEnd(42) + `${confined.seconds.toFixed(2)} s    ≤ +10 %`);
      console.log(`slowdown, ${PAGES} pages, confined`.padEnd(42) + `${((confined.seconds / alone.seconds - 1) * 100).toFixed(1)} %`);
    }
    console.log(`(live run wall with 1 page: ${live.seconds.toFixed(2)} s)`);
  } finally {
    await browser.close();
    ui.child.kill('SIGINT');
    await new Promise((resolve) => ui.child.once('exit', resolve));
    rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
