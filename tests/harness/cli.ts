import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ORCHESTRATOR_NODE_FLAGS } from '../../cli/process-settings.ts';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/matterstack.js');

/** What one `matterstack` process did. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON (throws with the output when it is not). */
  json<T = unknown>(): T;
}

/** Where and how to run the binary. */
export interface CliOptions {
  /** Workspaces root, passed as MATTERSTACK_WORKSPACES_ROOT (and used as cwd unless `cwd` is given). */
  root?: string;
  cwd?: string;
  env?: Record<string, string | undefined>;
}

function environment(options: CliOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, MATTERSTACK_NATS_URL: '', ...options.env };
  if (options.root !== undefined) env.MATTERSTACK_WORKSPACES_ROOT = options.root;
  return env;
}

function result(code: number | null, stdout: string, stderr: string): CliResult {
  return {
    code,
    stdout,
    stderr,
    json<T>() {
      try {
        return JSON.parse(stdout) as T;
      } catch {
        throw new Error(`stdout is not JSON (exit ${code}):\n${stdout}\nstderr:\n${stderr}`);
      }
    },
  };
}

/** A `matterstack` process started in the background; `done` resolves when it exits. */
export interface RunningCli {
  child: ChildProcess;
  /** What it printed so far. */
  output(): { stdout: string; stderr: string };
  done: Promise<CliResult>;
}

/** Starts `node <ORCHESTRATOR_NODE_FLAGS> bin/matterstack.js ...args` as a real process (the binary users run, as its shebang starts it). */
export function startCli(args: readonly string[], options: CliOptions = {}): RunningCli {
  const child = spawn(process.execPath, [...ORCHESTRATOR_NODE_FLAGS, BIN, ...args], { cwd: options.cwd ?? options.root ?? process.cwd(), env: environment(options), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(result(code, stdout, stderr)));
  });
  return { child, output: () => ({ stdout, stderr }), done };
}

/** Runs `matterstack ...args` to completion and returns its exit code and output. */
export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  return startCli(args, options).done;
}
