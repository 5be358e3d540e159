// The web view under load (npm run bench -- ui), on the embedded log: a real `matterstack ui` process
// watching the log a fanout-10000 run (in-process, instant operator, as bench/workloads.ts) writes.
//   - interactive: from opening a finished 10,000-task run's page to its DAG drawn (goal ≤ 2 s);
//   - lag: how long after a record is logged an open run page shows it (its time → the page's clock
//     when `data-last-seq` changes; same machine, same clock), during the run (goal ≤ 1 s);
//   - 50 pages: the run's wall time with 50 open pages on it against none (goal: within 10 %).
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { ORCHESTRATOR_NODE_FLAGS } from '../cli/process-settings.ts';
import { RunStore } from '../host/run-store.ts';
import { launchChromium } from '../harness/chromium.ts';
import { benchRoot, runWorkload, WORKLOADS } from './workloads.ts';

const BIN = fileURLToPath(new URL('../bin/matterstack.js', import.meta.url));
const WORKLOAD = WORKLOADS.find((w) => w.name === 'fanout-10000');
const PAGES = 50;

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

    // Opened ten at a time: fifty renderers starting at once on a small machine time out.
    const pages: Page[] = [];
    while (pages.length < PAGES) pages.push(...(await Promise.all(Array.from({ length: Math.min(10, PAGES - pages.length) }, () => watchRun(browser, ui.url, 'bench_50')))));
    const crowded = await runWorkload(WORKLOAD, { kind: 'sqlite' }, 'bench_50', root);
    await Promise.all(pages.map((p) => p.context().close()));

    const slowdown = crowded.seconds / alone.seconds - 1;
    console.log('measure                                   value     goal');
    console.log(`10,000-task run page interactive         ${(interactiveMs / 1000).toFixed(2)} s    ≤ 2 s`);
    console.log(`live lag, log → page, p50 (n=${lags.length})`.padEnd(42) + `${(percentile(lags, 50) / 1000).toFixed(2)} s    ≤ 1 s`);
    console.log(`live lag, log → page, max`.padEnd(42) + `${(Math.max(...lags) / 1000).toFixed(2)} s    ≤ 1 s`);
    console.log(`fanout-10000 wall, no page`.padEnd(42) + `${alone.seconds.toFixed(2)} s`);
    console.log(`fanout-10000 wall, ${PAGES} pages open`.padEnd(42) + `${crowded.seconds.toFixed(2)} s    ≤ +10 %`);
    console.log(`slowdown with ${PAGES} pages`.padEnd(42) + `${(slowdown * 100).toFixed(1)} %`);
    console.log(`(live run wall with 1 page: ${live.seconds.toFixed(2)} s)`);
  } finally {
    await browser.close();
    ui.child.kill('SIGINT');
    await new Promise((resolve) => ui.child.once('exit', resolve));
    rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
