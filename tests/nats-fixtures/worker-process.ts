import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A worker running in its own process (`matterstack worker`). */
export interface WorkerProcess {
  id: string;
  child: ChildProcess;
  stderr(): string;
  /** SIGKILL: no clean shutdown, the leases are left to expire. */
  kill(): Promise<void>;
  /** SIGTERM and wait for a clean exit. */
  stop(): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

/** Starts a worker process and resolves once it prints `ready`. */
export async function startWorkerProcess(options: { url: string; pass: string; root: string; id: string; leaseTtlMs: number; pollMs: number; args?: string[] }): Promise<WorkerProcess> {
  const child = spawn(
    process.execPath,
    [join(REPO, 'bin/matterstack.js'), 'worker', '--nats', options.url, '--root', options.root, '--id', options.id, '--lease-ttl-ms', String(options.leaseTtlMs), '--poll-ms', String(options.pollMs), ...(options.args ?? [])],
    { cwd: REPO, env: { ...process.env, MS_ORCHESTRATOR_PASSWORD: options.pass }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let err = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    err = (err + chunk.toString()).slice(-20_000);
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker ${options.id} not ready: ${err}`)), 60_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker ${options.id} exited with ${code}: ${err}`));
    });
  });
  return {
    id: options.id,
    child,
    stderr: () => err,
    async kill() {
      child.kill('SIGKILL');
      await exited(child);
    },
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited(child);
      clearTimeout(timer);
    },
  };
}
