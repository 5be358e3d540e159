import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './free-port.ts';
import { canConnect, exited, natsServerBinary, randomUsers, type NatsServerHandle } from './nats-server.ts';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');

/** One server of a cluster started by `startNatsCluster`. */
export interface ClusterNode {
  name: string;
  url: string;
  port: number;
  storeDir: string;
  /** SIGKILL (no clean shutdown). */
  kill(): Promise<void>;
  /** SIGTERM, wait for the exit, start again on the same ports and store. */
  restart(): Promise<void>;
  /** Starts it again after a kill. */
  start(): Promise<void>;
  running(): boolean;
}

/** A three-node JetStream cluster on loopback, each node from nats-cluster/n<i>.conf on free ports with its own temporary store. */
export interface NatsClusterHandle {
  nodes: ClusterNode[];
  /** Every node's client URL (clients reconnect to whichever is up). */
  urls: string[];
  users: NatsServerHandle['users'];
  /** Kills every node and removes the stores. */
  stop(): Promise<void>;
}

/**
 * Starts the repository's three-node cluster (nats-cluster/n1..n3.conf: the users of
 * nats-users.conf) with client and route ports chosen free, so it never touches 4222 or 6222.
 * Resolves once every node accepts clients (JetStream elects its meta leader shortly after).
 */
export async function startNatsCluster(options: { size?: number } = {}): Promise<NatsClusterHandle> {
  const size = options.size ?? 3;
  const { users, env } = randomUsers();
  const clientPorts: number[] = [];
  const routePorts: number[] = [];
  for (let i = 0; i < size; i++) {
    clientPorts.push(await freePort());
    routePorts.push(await freePort());
  }
  const routes = routePorts.map((p) => `nats-route://127.0.0.1:${p}`).join(',');
  const nodes = clientPorts.map((port, i) => clusterNode(i + 1, port, routePorts[i] as number, routes, env));
  await Promise.all(nodes.map((node) => node.start()));
  return {
    nodes,
    urls: nodes.map((n) => n.url),
    users,
    async stop() {
      await Promise.all(nodes.map((n) => n.kill()));
      for (const n of nodes) rmSync(n.storeDir, { recursive: true, force: true });
    },
  };
}

function clusterNode(index: number, port: number, routePort: number, routes: string, env: NodeJS.ProcessEnv): ClusterNode {
  const storeDir = mkdtempSync(join(tmpdir(), `ms-nats-n${index}-`));
  const configFile = join(REPO, 'nats-cluster', `n${index}.conf`);
  let child: ChildProcess | undefined;
  let stderr = '';
  const start = async (): Promise<void> => {
    stderr = '';
    // Command-line flags override the file's ports, routes and store.
    const args = ['-c', configFile, '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir, '--cluster', `nats://127.0.0.1:${routePort}`, '--routes', routes];
    const proc = spawn(natsServerBinary(), args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    proc.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`nats-server n${index} exited with ${proc.exitCode}: ${stderr}`);
      if (await canConnect(port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    proc.kill('SIGKILL');
    throw new Error(`nats-server n${index} did not accept connections on ${port} within 15 s: ${stderr}`);
  };
  const stop = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    child = undefined;
    if (proc === undefined) return;
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited(proc);
    clearTimeout(timer);
  };
  return {
    name: `ms-n${index}`,
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    start,
    kill: () => stop('SIGKILL'),
    async restart() {
      await stop('SIGTERM');
      await start();
    },
    running: () => child !== undefined,
  };
}
