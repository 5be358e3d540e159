// Where the CPU goes while pages watch a run (tsx bench/ui-cpu.bench.ts [pages], default 3): CPU
// time, not wall time, so that it means something on a machine shared with other work. Opens the
// pages on a run, runs fanout-10000 (as bench/ui.bench.ts), and prints for the first three pages the
// deltas and bytes they took and their renderers' task and script time (CDP Performance.getMetrics),
// then the CPU seconds of the browser's processes by type, of the `ui` server and of this process (the run).
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { CDPSession, Page } from 'playwright-core';
import { RunStore } from '../host/run-store.ts';
import { openPagesInBrowsers, startUi } from './ui.bench.ts';
import { benchRoot, runWorkload, WORKLOADS } from './workloads.ts';

const RUN_ID = 'bench_cpu';
/** How long the open pages settle (their first load), then how long their idle upkeep is measured. */
const IDLE_MS = 5000;

function sum(byType: Map<string, number>): number {
  return [...byType.values()].reduce((a, b) => a + b, 0);
}

/** Each process's parent, CPU seconds (its own and its waited-for children's) and Chromium process type. */
function processes(): Map<number, { parent: number; cpu: number; type: string }> {
  const table = new Map<number, { parent: number; cpu: number; type: string }>();
  for (const name of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const fields = (readFileSync(`/proc/${name}/stat`, 'utf8').split(') ')[1] as string).split(' ');
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      const type = /--type=([a-z-]+)/.exec(cmdline)?.[1] ?? 'browser';
      const sub = /--utility-sub-type=([\w.]+)/.exec(cmdline)?.[1];
      const cpu = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0) / 100;
      table.set(Number(name), { parent: Number(fields[1]), cpu, type: sub === undefined ? type : `${type} ${sub}` });
      // The process ended while the table was read: it is not part of what is measured.
    } catch {
      // Left out of the table (see above).
      continue;
    }
  }
  return table;
}

/** CPU seconds by Chromium process type of this process's descendants, not counting `skip`'s (the ui server). */
function browserCpu(skip: number): Map<string, number> {
  const table = processes();
  const byType = new Map<string, number>();
  for (const [pid, { cpu, type }] of table) {
    let up = pid;
    while (up > 1 && up !== process.pid && up !== skip) up = table.get(up)?.parent ?? 0;
    if (up === process.pid && pid !== process.pid) byType.set(type, (byType.get(type) ?? 0) + cpu);
  }
  return byType;
}

async function metrics(session: CDPSession): Promise<Record<string, number>> {
  const { metrics: list } = await session.send('Performance.getMetrics');
  return Object.fromEntries(list.map((m) => [m.name, m.value]));
}

/** Opens run RUN_ID's page in a context of its own, counting the deltas (and their bytes) its event stream brings. */
async function openPage(url: string, newPage: () => Promise<Page>): Promise<{ page: Page; session: CDPSession }> {
  const page = await newPage();
  // Runs in the page (a string: this file is compiled without the DOM's types).
  await page.addInitScript(`
    window.__deltas = [0, 0];
    const add = EventSource.prototype.addEventListener;
    EventSource.prototype.addEventListener = function (type, listener, ...rest) {
      const counted = type === 'delta' ? (event) => { window.__deltas[0]++; window.__deltas[1] += event.data.length; return listener(event); } : listener;
      return add.call(this, type, counted, ...rest);
    };
  `);
  await page.goto(`${url}#/run/${RUN_ID}`, { timeout: 120_000 });
  const session = await page.context().newCDPSession(page);
  await session.send('Performance.enable');
  return { page, session };
}

/** Runs the measurement with `count` pages open and prints it. */
export async function main(count = 3): Promise<void> {
  const workload = WORKLOADS.find((w) => w.name === 'fanout-10000');
  if (workload === undefined) throw new Error('bench/workloads.ts has no fanout-10000');
  const root = benchRoot();
  await (await RunStore.open({ root })).close();
  const ui = await startUi(root);
  const crowd = await openPagesInBrowsers(count, (browser) => openPage(ui.url, async () => (await browser.newContext()).newPage()));
  try {
    const { pages } = crowd;
    // What the open pages cost doing nothing (the browser's own upkeep), once settled, to tell it from what the deltas cost.
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    const idleBefore = browserCpu(ui.child.pid as number);
    const idleStart = performance.now();
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    const idleSeconds = (performance.now() - idleStart) / 1000;
    const idle = sum(browserCpu(ui.child.pid as number)) - sum(idleBefore);
    const shown = pages.slice(0, 3);
    const before = await Promise.all(shown.map((p) => metrics(p.session)));
    const browserBefore = browserCpu(ui.child.pid as number);
    const uiBefore = processes().get(ui.child.pid as number)?.cpu ?? 0;
    const runBefore = process.cpuUsage();
    const start = performance.now();
    const run = await runWorkload(workload, { kind: 'sqlite' }, RUN_ID, root);
    const runCpu = process.cpuUsage(runBefore);
    await Promise.all(pages.map((p) => p.page.locator('.run-page[data-status="COMPLETED"]').waitFor({ timeout: 300_000 })));
    const busySeconds = (performance.now() - start) / 1000;
    const after = await Promise.all(shown.map((p) => metrics(p.session)));
    const browserAfter = browserCpu(ui.child.pid as number);
    const uiCpu = (processes().get(ui.child.pid as number)?.cpu ?? 0) - uiBefore;
    console.log(`fanout-10000 watched by ${count} pages, CPU time`);
    for (const [i, p] of shown.entries()) {
      const [deltas, chars] = (await p.page.evaluate('window.__deltas')) as [number, number];
      const spent = (name: string): number => (after[i]?.[name] ?? 0) - (before[i]?.[name] ?? 0);
      console.log(`page ${i}: ${deltas} deltas, ${(chars / 1e6).toFixed(1)} MB; renderer task ${spent('TaskDuration').toFixed(2)} s, script ${spent('ScriptDuration').toFixed(2)} s (${((spent('TaskDuration') / Math.max(1, deltas)) * 1000).toFixed(0)} ms a delta)`);
    }
    console.log(`browser processes: ${[...browserAfter].map(([type, cpu]) => `${type} ${(cpu - (browserBefore.get(type) ?? 0)).toFixed(2)} s`).join(', ')}`);
    const busy = sum(browserAfter) - sum(browserBefore);
    console.log(`browser, all processes: ${busy.toFixed(2)} s in ${busySeconds.toFixed(1)} s, of which idle upkeep (${((idle / idleSeconds) * 1000).toFixed(0)} ms/s measured before) ${((idle / idleSeconds) * busySeconds).toFixed(2)} s: ${(busy - (idle / idleSeconds) * busySeconds).toFixed(2)} s for the run's updates`);
    console.log(`ui server ${uiCpu.toFixed(2)} s; this process (the run) ${((runCpu.user + runCpu.system) / 1e6).toFixed(2)} s; run wall ${run.seconds.toFixed(2)} s`);
  } finally {
    await crowd.close();
    ui.child.kill('SIGINT');
    await new Promise((resolve) => ui.child.once('exit', resolve));
    rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main(Number(process.argv[2] ?? 3));
