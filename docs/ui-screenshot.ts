// Makes docs/ui-run.png and docs/ui-timeline.png, the README's pictures of the web view:
// a demo run (a fan-out, a failure allowed, a gate waiting) driven by real `loop` and `ui` processes.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../harness/chromium.ts';

const BIN = fileURLToPath(new URL('../bin/matterstack.js', import.meta.url));
const OUT = fileURLToPath(new URL('.', import.meta.url));

const CAMPAIGN = `
const screens = Array.from({ length: 24 }, (_, i) => ({ id: 'screen_' + String(i).padStart(2, '0'), command: 'sleep 0.' + (i % 5 + 1), dependencies: ['prepare'] }));
export function plan(state) {
  if (state !== null) return null;
  return { tasks: [
    { id: 'prepare', command: 'echo preparing structures; sleep 0.5' },
    ...screens,
    { id: 'relax_outlier', command: 'echo diverged >&2; exit 2', dependencies: ['prepare'], allowFailure: true },
    { id: 'review', kind: 'gate', message: 'Synthesize the top 3 candidates?', dependencies: screens.map((s) => s.id) },
    { id: 'rank', command: 'echo ranking', dependencies: ['review', 'relax_outlier'], allowDependencyFailure: true },
  ] };
}
export function analyze(state, results) { return { screened: Object.keys(results).length }; }
`;

function cli(root: string, args: string[]): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { env: { ...process.env, MATTERSTACK_WORKSPACES_ROOT: root, MATTERSTACK_NATS_URL: '' }, stdio: ['ignore', 'pipe', 'inherit'] });
}

/** The first line a process prints. */
function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('\n')) resolve(out.split('\n')[0] as string);
    });
    child.on('exit', (code) => reject(new Error(`exited ${code} before printing a line`)));
  });
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ms-screenshot-'));
fs.mkdirSync(path.join(root, 'screening'));
fs.writeFileSync(path.join(root, 'screening', 'campaign.mjs'), CAMPAIGN);
const runId = spawnSync(process.execPath, [BIN, 'init', 'screening'], { env: { ...process.env, MATTERSTACK_WORKSPACES_ROOT: root }, encoding: 'utf8' }).stdout.trim().split('\n')[0] as string;
const loop = cli(root, ['loop', runId]);
const ui = cli(root, ['ui']);
const browser = await launchChromium();
try {
  const url = await firstLine(ui);
  const page = await browser.newPage({ viewport: { width: 1500, height: 820 } });
  await page.goto(`${url}#/run/${runId}`);
  await page.locator('.task-node[data-task-id="review"][data-status="WAITING_EXTERNAL"]').waitFor({ timeout: 120_000 });
  await page.locator('.task-node[data-task-id="review"]').click();
  await page.locator('.gate-form').waitFor();
  await page.screenshot({ path: path.join(OUT, 'ui-run.png') });
  await page.locator('[data-tab=timeline]').click();
  await page.locator('.timeline').waitFor();
  await page.screenshot({ path: path.join(OUT, 'ui-timeline.png') });
  console.log(`wrote ${path.join(OUT, 'ui-run.png')} and ui-timeline.png`);
} finally {
  await browser.close();
  loop.kill('SIGINT');
  ui.kill('SIGINT');
  await Promise.all([loop, ui].map((child) => new Promise((resolve) => child.once('exit', resolve))));
  fs.rmSync(root, { recursive: true, force: true });
}
