// Entry of a TypeScript worker thread (a campaign's, a worker's status responder): loader hooks are per
// thread, so the thread registers tsx itself (both hooks, as bin/matterstack.js does) before loading its entry.
import { workerData } from 'node:worker_threads';
import { register as registerCommonJs } from 'tsx/cjs/api';
import { register } from 'tsx/esm/api';

registerCommonJs();
register();
await import(workerData.entry);
