import { spawn } from 'node:child_process';
import { MatterStackError } from '../../events/errors.ts';
import { slurmCommandEnv } from '../task-env.ts';

/** What a cluster command printed and how it ended. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of one command. */
export interface RunOptions {
  /** Text written to the command's stdin. */
  input?: string;
  /** Kill the command after this long (default 60 s): a timeout is a transient failure. */
  timeoutMs?: number;
}

/**
 * Runs Slurm commands "on the cluster": here (the worker is a login node) or through `ssh`.
 * Failing to *reach* the cluster (command not found, ssh connection refused, timeouts, the
 * controller not answering) throws a `TransientClusterError`; a command that ran and failed
 * resolves with its exit code.
 */
export interface CommandRunner {
  /** True when commands run on another host (files are staged there and fetched back). */
  readonly remote: boolean;
  /** Human-readable target, for messages (`local`, `ssh user@host:port`). */
  readonly target: string;
  run(argv: readonly string[], options?: RunOptions): Promise<CommandResult>;
  /** Copies the content of local directory `localDir` into `remoteDir` (created). Remote runners only. */
  push(localDir: string, remoteDir: string): Promise<void>;
  /** Copies the content of `remoteDir` into `localDir`. Remote runners only. */
  pull(remoteDir: string, localDir: string, exclude?: readonly string[]): Promise<void>;
}

/** The cluster could not be reached: retried with backoff, never fails a task by itself. */
export class TransientClusterError extends MatterStackError {
  readonly transient = true;
  constructor(message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super('OPERATOR_ERROR', message, { ...details, transient: true }, options);
    this.name = 'TransientClusterError';
  }
}

export function isTransient(error: unknown): error is TransientClusterError {
  return error instanceof TransientClusterError || (error instanceof MatterStackError && error.details.transient === true);
}

/** Slurm client messages that mean "the controller is unreachable right now", not "your request is wrong". */
const SLURM_UNREACHABLE = /Unable to contact slurm controller|Socket timed out|Connection refused|Connection timed out|Zero Bytes were transmitted|Transport endpoint is not connected|Communication connection failure|slurm_receive_msg|Slurm backup controller in standby|Munge|auth\/munge/i;

/** True when a Slurm command's failure means the cluster is unreachable (retry later). */
export function isUnreachableOutput(stderr: string): boolean {
  return SLURM_UNREACHABLE.test(stderr);
}

/** Single-quotes a word for a POSIX shell. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

interface SpawnOutcome extends CommandResult {
  timedOut: boolean;
  spawnError?: NodeJS.ErrnoException;
}

function spawnCollect(file: string, args: readonly string[], options: RunOptions & { stdin?: NodeJS.ReadableStream; env?: Record<string, string> }): Promise<SpawnOutcome> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], env: options.env ?? process.env });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let spawnError: NodeJS.ErrnoException | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 60_000);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', (error: NodeJS.ErrnoException) => {
      spawnError = error;
    });
    // EPIPE when the command exits without reading its input: its exit code and stderr tell what happened.
    child.stdin.on('error', () => undefined);
    if (options.stdin) options.stdin.pipe(child.stdin);
    else child.stdin.end(options.input ?? '');
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr, timedOut, ...(spawnError ? { spawnError } : {}) });
    });
  });
}

/**
 * Runs Slurm commands on this machine, in the task allow-list of the worker's environment plus
 * its Slurm and module variables (see task-env.ts): sbatch exports its environment to the job, so
 * the orchestrator's secrets must not be in it.
 */
export class LocalCommandRunner implements CommandRunner {
  readonly remote = false;
  readonly target = 'local';
  private readonly env: Record<string, string> | undefined;

  /** `env`: variables set for the Slurm commands over the allowed ones of the worker (e.g. SLURM_CONF, PATH). */
  constructor(options: { env?: Record<string, string> } = {}) {
    this.env = options.env;
  }

  async run(argv: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
    const [file, ...args] = argv;
    if (file === undefined) throw new Error('empty command');
    const outcome = await spawnCollect(file, args, { ...options, env: { ...slurmCommandEnv(), ...this.env } });
    if (outcome.spawnError) {
      const code = outcome.spawnError.code;
      throw new TransientClusterError(
        code === 'ENOENT' ? `${file}: command not found (is Slurm installed and on PATH?)` : `${file}: cannot run (${outcome.spawnError.message})`,
        { command: file, errno: code },
        { cause: outcome.spawnError },
      );
    }
    if (outcome.timedOut) throw new TransientClusterError(`${file}: timed out after ${options.timeoutMs ?? 60_000} ms`, { command: file });
    if (outcome.code !== 0 && isUnreachableOutput(outcome.stderr)) {
      throw new TransientClusterError(`${file}: Slurm unreachable: ${firstLine(outcome.stderr)}`, { command: file });
    }
    return { code: outcome.code, stdout: outcome.stdout, stderr: outcome.stderr };
  }

  async push(): Promise<void> {
    // Same filesystem: nothing to stage.
  }

  async pull(): Promise<void> {
    // Same filesystem: nothing to fetch.
  }
}

/** SSH connection settings (operators.yaml `backend.ssh`). */
export interface SshSettings {
  host: string;
  user?: string;
  port: number;
  keyPath?: string;
  /** known_hosts file to check the host key against (default: ssh's own). */
  knownHosts?: string;
  /** Trust a host key never seen before (ssh `accept-new`); off by default. */
  acceptUnknownHostKeys?: boolean;
  /** ConnectTimeout in seconds (default 15). */
  connectTimeoutSeconds?: number;
}

/** Runs the same commands on a login node through `ssh` (BatchMode, strict host-key checking). */
export class SshCommandRunner implements CommandRunner {
  readonly remote = true;
  readonly target: string;
  private readonly settings: SshSettings;

  constructor(settings: SshSettings) {
    this.settings = settings;
    this.target = `ssh ${this.destination()}:${settings.port}`;
  }

  private destination(): string {
    return this.settings.user ? `${this.settings.user}@${this.settings.host}` : this.settings.host;
  }

  /** ssh's argv up to (not including) the remote command. */
  sshArgs(): string[] {
    const s = this.settings;
    const args = [
      '-o', 'BatchMode=yes',
      '-o', `StrictHostKeyChecking=${s.acceptUnknownHostKeys ? 'accept-new' : 'yes'}`,
      '-o', `ConnectTimeout=${s.connectTimeoutSeconds ?? 15}`,
      '-o', 'ServerAliveInterval=15',
      '-o', 'LogLevel=ERROR',
      '-p', String(s.port),
    ];
    if (s.knownHosts) args.push('-o', `UserKnownHostsFile=${s.knownHosts}`);
    if (s.keyPath) args.push('-i', s.keyPath, '-o', 'IdentitiesOnly=yes');
    args.push(this.destination(), '--');
    return args;
  }

  async run(argv: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
    return this.runShell(argv.map(shellQuote).join(' '), options);
  }

  /** Runs a remote shell command line (already quoted). */
  async runShell(commandLine: string, options: RunOptions & { stdin?: NodeJS.ReadableStream } = {}): Promise<CommandResult> {
    const outcome = await spawnCollect('ssh', [...this.sshArgs(), commandLine], options);
    if (outcome.spawnError) {
      throw new TransientClusterError(`ssh: cannot run (${outcome.spawnError.message})`, { target: this.target }, { cause: outcome.spawnError });
    }
    if (outcome.timedOut) throw new TransientClusterError(`${this.target}: timed out after ${options.timeoutMs ?? 60_000} ms`, { target: this.target });
    if (outcome.code === 255) this.raiseSshFailure(outcome.stderr);
    if (outcome.code !== 0 && isUnreachableOutput(outcome.stderr) && !/Permission denied/.test(outcome.stderr)) {
      throw new TransientClusterError(`${this.target}: Slurm unreachable: ${firstLine(outcome.stderr)}`, { target: this.target });
    }
    if (outcome.code === 127) {
      throw new TransientClusterError(`${this.target}: command not found on the login node: ${firstLine(outcome.stderr)}`, { target: this.target });
    }
    return { code: outcome.code, stdout: outcome.stdout, stderr: outcome.stderr };
  }

  /** ssh's own failures (exit 255): host keys and authentication are configuration errors, the rest is transient. */
  private raiseSshFailure(stderr: string): never {
    const s = this.settings;
    if (/Host key verification failed|No .* host key is known|REMOTE HOST IDENTIFICATION HAS CHANGED/i.test(stderr)) {
      const file = s.knownHosts ?? '~/.ssh/known_hosts';
      throw new MatterStackError(
        'OPERATOR_ERROR',
        `${this.target}: the host key of ${s.host} is not trusted (strict host-key checking is on). ` +
          `Check the key's fingerprint with the cluster's admins, then trust it with: ssh-keyscan -p ${s.port} ${s.host} >> ${file}` +
          ` (or set backend.ssh.accept_unknown_host_keys: true to trust a new host on first use)`,
        { target: this.target, ssh: firstLine(stderr) },
      );
    }
    if (/Permission denied|Too many authentication failures/i.test(stderr)) {
      throw new MatterStackError('OPERATOR_ERROR', `${this.target}: authentication refused (${firstLine(stderr)}); check backend.ssh.user and key_path`, {
        target: this.target,
      });
    }
    throw new TransientClusterError(`${this.target}: ${firstLine(stderr) || 'ssh failed (exit 255)'}`, { target: this.target });
  }

  async push(localDir: string, remoteDir: string): Promise<void> {
    const tar = spawn('tar', ['-C', localDir, '-cf', '-', '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const result = await this.runShell(`mkdir -p ${shellQuote(remoteDir)} && tar -C ${shellQuote(remoteDir)} -xf -`, { stdin: tar.stdout });
    if (result.code !== 0) throw new MatterStackError('OPERATOR_ERROR', `${this.target}: staging into ${remoteDir} failed: ${firstLine(result.stderr)}`, { remoteDir });
  }

  async pull(remoteDir: string, localDir: string, exclude: readonly string[] = []): Promise<void> {
    const excludes = exclude.map((e) => `--exclude=${shellQuote(`./${e}`)}`).join(' ');
    const commandLine = `tar -C ${shellQuote(remoteDir)} ${excludes} -cf - .`;
    await new Promise<void>((resolve, reject) => {
      const ssh = spawn('ssh', [...this.sshArgs(), commandLine], { stdio: ['ignore', 'pipe', 'pipe'] });
      const untar = spawn('tar', ['-C', localDir, '-xf', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
      ssh.stdout.pipe(untar.stdin);
      let sshErr = '';
      ssh.stderr.setEncoding('utf8').on('data', (c: string) => (sshErr += c));
      let sshCode: number | null = null;
      ssh.on('error', (e) => reject(new TransientClusterError(`ssh: cannot run (${e.message})`, { target: this.target })));
      ssh.on('close', (code) => {
        sshCode = code;
      });
      untar.on('close', () => {
        const finish = (): void => {
          if (sshCode === 255) {
            try {
              this.raiseSshFailure(sshErr);
            } catch (error) {
              reject(error);
              return;
            }
          }
          if (sshCode !== 0) reject(new MatterStackError('OPERATOR_ERROR', `${this.target}: fetching ${remoteDir} failed: ${firstLine(sshErr)}`, { remoteDir }));
          else resolve();
        };
        if (sshCode === null) ssh.once('close', finish);
        else finish();
      });
    });
  }
}

function firstLine(text: string): string {
  return text.trim().split('\n').find((l) => l.trim() !== '')?.trim() ?? '';
}
