// matterstack check (npm run bench -- check): 1,000 simulated scenarios of the battery screening
// demo through checkCampaign (the real machines and host on an in-memory log, its campaign.check.ts
// arbitraries and invariant), with a fixed seed. Goal: ≤ 10 s on a 2-core machine.
//   tsx bench/check.bench.ts [scenarios]
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkWorkspace } from '../testing/index.ts';

const BATTERY = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../workspaces/demos/battery_screening');

/** Runs `scenarios` scenarios of the battery demo and prints the time and the rate. */
export async function main(scenarios = 1000): Promise<void> {
  const started = performance.now();
  const report = await checkWorkspace(BATTERY, { runs: scenarios, seed: 20260101 });
  const seconds = (performance.now() - started) / 1000;
  if (!report.ok) throw new Error(`the battery demo's check failed: ${report.failure?.problems.join('; ')}`);
  const transitions = report.coverage.exercised.length;
  console.log(`battery_screening: ${report.scenarios} scenarios in ${seconds.toFixed(2)} s (${(seconds * 1000 / report.scenarios).toFixed(1)} ms each); ${transitions} run-machine transitions exercised`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main(Number(process.argv[2] ?? 1000));
