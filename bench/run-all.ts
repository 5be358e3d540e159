// Runs every benchmark in turn (npm run bench). Each benchmark prints its own table.
import { main as eventLogBench } from './event-log.bench.ts';
import { main as workloadsBench } from './workloads.ts';

await eventLogBench();
await workloadsBench();
