import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './free-port.ts';

/** Credentials of one user defined in nats.conf. */
export interface NatsUser {
  user: string;
  pass: string;
}

/** A private nats-server started for a test file or a benchmark. */
export interface NatsServerHandle {
  url: string;
  port: number;
  storeDir: string;
  users: { orchestrator: NatsUser; scientist: NatsUser; viewer: NatsUser };
  /** Kills the server and removes its store. */
  stop(): Promise<void>;
  /** Kills and starts the server again on the same port and store (JetStream data survives). */
  restart(): Promise<void>;
}

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The nats-server binary: $NATS_SERVER_BIN, else Debian's /usr/sbin one, else the PATH. */
export function natsServerBinary(): string {
  if (process.env.NATS_SERVER_BIN) return process.env.NATS_SERVER_BIN;
  return existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server';
}

/** True once a server on `port` greets a client. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('data', () => {
      // The server greets with INFO once it accepts clients.
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** Resolves when `child` has exited. */
export function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

/** Random passwords for the three users of nats-users.conf, and the environment that gives them to nats-server. */
export function randomUsers(): { users: NatsServerHandle['users']; env: NodeJS.ProcessEnv } {
  // A leading letter: nats.conf variable values that start with a digit are parsed as numbers.
  const password = (): string => `p${randomBytes(12).toString('hex')}`;
  const users = {
    orchestrator: { user: 'orchestrator', pass: password() },
    scientist: { user: 'scientist', pass: password() },
    viewer: { user: 'viewer', pass: password() },
  };
  const env = {
    ...process.env,
    MS_ORCHESTRATOR_PASSWORD: users.orchestrator.pass,
    MS_SCIENTIST_PASSWORD: users.scientist.pass,
    MS_VIEWER_PASSWORD: users.viewer.pass,
  };
  return { users, env };
}

/**
 * Starts nats-server with the repository's nats.conf on a free loopback port and a temporary
 * store, with random passwords for the three users. Never touches a server on 4222.
 */
export async function startNatsServer(options: { configFile?: string } = {}): Promise<NatsServerHandle> {
  const port = await freePort();
  const storeDir = mkdtempSync(join(tmpdir(), 'ms-nats-'));
  const { users, env } = randomUsers();
  const configFile = options.configFile ?? join(REPO, 'nats.conf');
  let child: ChildProcess | undefined;
  let stderr = '';

  const launch = async (): Promise<void> => {
    stderr = '';
    // Command-line flags override the file's host, port and store_dir.
    const proc = spawn(natsServerBinary(), ['-c', configFile, '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child = proc;
    proc.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`nats-server exited with ${proc.exitCode}: ${stderr}`);
      if (await canConnect(port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    proc.kill('SIGKILL');
    throw new Error(`nats-server did not accept connections on ${port} within 10 s: ${stderr}`);
  };

  const kill = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (proc === undefined) return;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
    await exited(proc);
    clearTimeout(timer);
  };

  await launch();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    users,
    async stop() {
      await kill();
      rmSync(storeDir, { recursive: true, force: true });
    },
    async restart() {
      await kill();
      await launch();
    },
  };
}
