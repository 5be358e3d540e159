// Child process of the status-thread test: asks for a run's status again and again for `ms`
// milliseconds (after printing "asking"), then prints each reply's latency and run status as JSON.
import { connect } from '@nats-io/transport-node';
import { requestCommand } from '../../distributed/command-client.ts';

const [url, user, pass, runId, msText] = process.argv.slice(2) as [string, string, string, string, string];
const nc = await connect({ servers: url, user, pass });
const replies: { ms: number; status: string | null }[] = [];
console.log('asking');
const end = Date.now() + Number(msText);
while (Date.now() < end) {
  const start = performance.now();
  const reply = await requestCommand(nc, runId, 'status', {}, 10_000);
  replies.push({ ms: performance.now() - start, status: reply.accepted ? String(reply.status?.status) : null });
  await new Promise((resolve) => setTimeout(resolve, 20));
}
console.log(JSON.stringify(replies));
await nc.close();
