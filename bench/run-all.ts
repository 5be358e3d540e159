// Runs every benchmark in turn (npm run bench). Each prints its own table. `npm run bench -- <name>...`
// runs only the named ones (event-log, read-validation, projections, workloads, nats, cluster, slurm, python, check, local, ui).
import { main as checkBench } from './check.bench.ts';
import { main as clusterBench } from './cluster.bench.ts';
import { main as eventLogBench } from './event-log.bench.ts';
import { main as localBench } from './local.bench.ts';
import { main as natsBench } from './nats.bench.ts';
import { runProjectionsBench } from './projections.bench.ts';
import { main as pythonBench } from './python-campaign.bench.ts';
import { main as readValidationBench } from './read-validation.bench.ts';
import { main as slurmBench } from './slurm.bench.ts';
import { main as uiBench } from './ui.bench.ts';
import { main as workloadsBench } from './workloads.ts';

const BENCHES: Record<string, () => Promise<unknown>> = {
  'event-log': () => eventLogBench(),
  'read-validation': async () => readValidationBench(),
  projections: () => runProjectionsBench(),
  workloads: () => workloadsBench(),
  nats: () => natsBench(),
  cluster: () => clusterBench(),
  slurm: () => slurmBench(200, 3),
  python: () => pythonBench(),
  check: () => checkBench(),
  local: () => localBench(),
  ui: () => uiBench(),
};

const chosen = process.argv.slice(2);
for (const name of chosen.length > 0 ? chosen : Object.keys(BENCHES)) {
  const bench = BENCHES[name];
  if (bench === undefined) throw new Error(`unknown bench "${name}" (known: ${Object.keys(BENCHES).join(', ')})`);
  console.log(`\n=== ${name} ===`);
  await bench();
}
