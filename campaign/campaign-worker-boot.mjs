// Entry of a campaign worker thread: loader hooks are per thread, so the worker registers tsx
// itself (both hooks, as bin/matterstack.js does) before loading the TypeScript worker.
import { workerData } from 'node:worker_threads';
import { register as registerCommonJs } from 'tsx/cjs/api';
import { register } from 'tsx/esm/api';

registerCommonJs();
register();
await import(workerData.entry);
