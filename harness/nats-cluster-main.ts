// `npm run cluster`: a three-node JetStream cluster on this machine, for trying and testing the
// distributed mode (free ports, temporary stores removed on exit). Prints the URLs and the
// passwords to export, then runs until Ctrl-C.
import { startNatsCluster } from './nats-cluster.ts';

const cluster = await startNatsCluster();
const { orchestrator, scientist, viewer } = cluster.users;
console.log(`three-node JetStream cluster "matterstack" up: ${cluster.nodes.map((n) => `${n.name} ${n.url}`).join(', ')}`);
console.log(`export MATTERSTACK_NATS_URL=${cluster.urls.join(',')}`);
console.log(`export MS_ORCHESTRATOR_PASSWORD=${orchestrator.pass} MS_SCIENTIST_PASSWORD=${scientist.pass} MS_VIEWER_PASSWORD=${viewer.pass}`);
console.log('then: npx matterstack worker   (one or more; the stream and buckets get 3 replicas)   Ctrl-C stops the cluster');
const stop = (): void => {
  void cluster.stop().finally(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
