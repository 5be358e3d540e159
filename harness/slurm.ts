import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './free-port.ts';

/**
 * A real one-node Slurm (Debian's slurmctld/slurmd 22.05) and a real sshd, started from temp
 * dirs on free non-default ports for a test file or a benchmark, and stopped by it
 * (see ../shared/reference/slurm-on-one-machine.md). Needs root and the Debian packages
 * slurmctld slurmd slurm-client munge openssh-server.
 */

const SLURM_BINARIES = ['/usr/sbin/slurmctld', '/usr/sbin/slurmd', '/usr/sbin/munged', '/usr/bin/sbatch', '/usr/bin/squeue', '/usr/bin/scontrol', '/usr/bin/scancel'];

/** Why a real Slurm cannot run here, or null when it can. */
export function slurmUnavailableReason(): string | null {
  const missing = SLURM_BINARIES.filter((bin) => !existsSync(bin));
  if (missing.length > 0) return `Slurm binaries missing (${missing.join(', ')}): apt-get install -y slurmctld slurmd slurm-client munge`;
  if (process.getuid?.() !== 0) return 'the Slurm test cluster runs its daemons as root';
  if (!existsSync('/etc/munge/munge.key')) return '/etc/munge/munge.key is missing (reinstall munge)';
  return null;
}

/** Why an sshd cannot run here, or null. */
export function sshdUnavailableReason(): string | null {
  for (const bin of ['/usr/sbin/sshd', '/usr/bin/ssh', '/usr/bin/ssh-keygen']) if (!existsSync(bin)) return `${bin} missing: apt-get install -y openssh-server openssh-client`;
  return null;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A running test cluster. */
export interface SlurmCluster {
  dir: string;
  conf: string;
  /** Slurm finished-job records (jobcomp/filetxt), one line per job. */
  jobCompFile: string;
  /**
   * A directory mirroring /usr/bin (symlinks) to put on PATH instead of /usr/bin and /bin:
   * renaming a Slurm command in it simulates "command not found" for the worker and nothing else.
   */
  binDir: string;
  /** Environment for Slurm clients: SLURM_CONF, and PATH through `binDir`. */
  env: Record<string, string>;
  /** Runs a Slurm client command against this cluster. */
  exec(argv: string[]): string;
  /** Lines of the JobComp file for jobs named `name`. */
  jobCompRecords(name?: string): string[];
  /** Hides (renames) a command in binDir; returns the function restoring it. */
  hideCommand(name: string): () => void;
  /**
   * A private PATH mirror for one test (give it to a LocalCommandRunner's env): hiding a command
   * there simulates an outage for that test only, while other tests share the cluster.
   */
  privatePath(): { path: string; hide(name: string): () => void };
  /** Cancels every job, stops slurmd, slurmctld and munged, removes the temp dir. */
  stop(): Promise<void>;
}

/** Options of `startSlurm`. */
export interface StartSlurmOptions {
  /** Seconds finished jobs stay visible to squeue/scontrol (default 10). */
  minJobAge?: number;
  cpus?: number;
}

function waitForFile(file: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return (async () => {
    while (!existsSync(file)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${file}`);
      await sleep(50);
    }
  })();
}

/** Fills `dir` with symlinks to everything in /usr/bin. */
function mirrorUsrBin(dir: string): void {
  for (const name of readdirSync('/usr/bin')) {
    try {
      symlinkSync(path.join('/usr/bin', name), path.join(dir, name));
    } catch {
      // A name that cannot be linked is not one the tests need.
    }
  }
}

/** Renames `dir/name` away ("command not found"); returns the function that puts it back. */
function hide(dir: string, name: string): () => void {
  const from = path.join(dir, name);
  const to = path.join(dir, `${name}.hidden`);
  renameSync(from, to);
  return () => renameSync(to, from);
}

/** The worker PATH: `binDir` replaces /usr/bin and /bin, the rest is kept. */
function pathWith(binDir: string, base: string): string {
  const rest = base.split(':').filter((p) => p !== '' && p !== '/usr/bin' && p !== '/bin');
  return [binDir, ...rest].join(':');
}

/** Starts munged (private socket), slurmctld and slurmd; resolves once the node is idle. */
export async function startSlurm(options: StartSlurmOptions = {}): Promise<SlurmCluster> {
  const why = slurmUnavailableReason();
  if (why !== null) throw new Error(why);
  const dir = mkdtempSync(path.join(tmpdir(), 'ms-slurm-'));
  const host = hostname().split('.')[0] ?? 'localhost';
  const [ctldPort, slurmdPort] = [await freePort(), await freePort()];
  const socket = path.join(dir, 'munge.sock');
  const conf = path.join(dir, 'slurm.conf');
  const jobCompFile = path.join(dir, 'jobcomp.txt');
  for (const sub of ['state', 'spool', 'bin']) mkdirSync(path.join(dir, sub));
  writeFileSync(
    conf,
    [
      'ClusterName=mstest',
      `SlurmctldHost=${host}`,
      `SlurmctldPort=${ctldPort}`,
      `SlurmdPort=${slurmdPort}`,
      'SlurmUser=root',
      `AuthInfo=socket=${socket}`,
      `StateSaveLocation=${dir}/state`,
      `SlurmdSpoolDir=${dir}/spool`,
      `SlurmctldPidFile=${dir}/slurmctld.pid`,
      `SlurmdPidFile=${dir}/slurmd.pid`,
      `SlurmctldLogFile=${dir}/slurmctld.log`,
      `SlurmdLogFile=${dir}/slurmd.log`,
      'ProctrackType=proctrack/linuxproc',
      'TaskPlugin=task/none',
      'JobAcctGatherType=jobacct_gather/none',
      'AccountingStorageType=accounting_storage/none',
      'JobCompType=jobcomp/filetxt',
      `JobCompLoc=${jobCompFile}`,
      'SelectType=select/cons_tres',
      'SelectTypeParameters=CR_Core',
      'MpiDefault=none',
      'ReturnToService=2',
      `MinJobAge=${options.minJobAge ?? 10}`,
      'KillWait=2',
      'SchedulerParameters=sched_interval=1',
      // More CPUs than the machine has: test jobs mostly sleep.
      'SlurmdParameters=config_overrides',
      `NodeName=${host} CPUs=${options.cpus ?? 16} RealMemory=16000 State=UNKNOWN`,
      `PartitionName=debug Nodes=${host} Default=YES MaxTime=INFINITE State=UP`,
      '',
    ].join('\n'),
  );
  const binDir = path.join(dir, 'bin');
  mirrorUsrBin(binDir);
  let mirrors = 0;
  const basePath = process.env.PATH ?? '';
  const env = { SLURM_CONF: conf, PATH: pathWith(binDir, basePath) };
  const daemonEnv = { ...process.env, SLURM_CONF: conf };
  const children: ChildProcess[] = [];
  const launch = (file: string, args: string[], log: string): ChildProcess => {
    const child = spawn(file, args, { env: daemonEnv, stdio: ['ignore', 'ignore', 'ignore'] });
    child.on('error', (error) => writeFileSync(path.join(dir, `${log}.spawn-error`), String(error)));
    children.push(child);
    return child;
  };
  const stop = async (): Promise<void> => {
    try {
      spawnSync('/usr/bin/scancel', ['--user=root'], { env: daemonEnv, timeout: 10_000 });
      await sleep(300);
    } catch {
      // The cluster may already be down.
    }
    for (const child of [...children].reverse()) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const exited = await Promise.race([new Promise((r) => child.once('exit', () => r(true))), sleep(5000).then(() => false)]);
        if (!exited) child.kill('SIGKILL');
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    launch('/usr/sbin/munged', ['-F', `--socket=${socket}`, `--pid-file=${dir}/munged.pid`, `--log-file=${dir}/munged.log`, `--seed-file=${dir}/munge.seed`, '--key-file=/etc/munge/munge.key', '--force'], 'munged');
    await waitForFile(socket, 10_000);
    launch('/usr/sbin/slurmctld', ['-D', '-f', conf], 'slurmctld');
    await waitForFile(`${dir}/slurmctld.pid`, 15_000);
    launch('/usr/sbin/slurmd', ['-D', '-f', conf], 'slurmd');
    const deadline = Date.now() + 30_000;
    for (;;) {
      const out = spawnSync('/usr/bin/sinfo', ['--noheader', '--format=%t'], { env: daemonEnv, encoding: 'utf8' });
      if (out.status === 0 && /idle|mix|alloc/.test(out.stdout)) break;
      if (Date.now() > deadline) {
        const log = existsSync(`${dir}/slurmctld.log`) ? readFileSync(`${dir}/slurmctld.log`, 'utf8').slice(-2000) : '';
        throw new Error(`Slurm node never became idle (sinfo: ${out.stdout.trim()} ${out.stderr.trim()})\n${log}`);
      }
      await sleep(250);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    dir,
    conf,
    jobCompFile,
    binDir,
    env,
    exec: (argv) => execFileSync(argv[0]!.includes('/') ? argv[0]! : `/usr/bin/${argv[0]}`, argv.slice(1), { env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }),
    jobCompRecords: (name) => {
      if (!existsSync(jobCompFile)) return [];
      const lines = readFileSync(jobCompFile, 'utf8').split('\n').filter((l) => l.trim() !== '');
      return name === undefined ? lines : lines.filter((l) => l.includes(` Name=${name} `));
    },
    hideCommand: (name) => hide(binDir, name),
    privatePath: () => {
      const mirror = path.join(dir, `bin-${++mirrors}`);
      mkdirSync(mirror);
      mirrorUsrBin(mirror);
      return { path: pathWith(mirror, basePath), hide: (name) => hide(mirror, name) };
    },
    stop,
  };
}

/** A private sshd on a loopback port that lets a generated test key log in as the current user. */
export interface SshServer {
  port: number;
  host: string;
  user: string;
  /** Private key of the test client. */
  keyPath: string;
  /** known_hosts holding the server's host key (strict checking passes with it). */
  knownHosts: string;
  /** An empty known_hosts (strict checking fails with it). */
  emptyKnownHosts: string;
  stop(): Promise<void>;
}

/** Starts sshd with a fresh host key and client key; `env` is set in every session (SetEnv). */
export async function startSshd(env: Record<string, string> = {}): Promise<SshServer> {
  const why = sshdUnavailableReason();
  if (why !== null) throw new Error(why);
  const dir = mkdtempSync(path.join(tmpdir(), 'ms-sshd-'));
  const port = await freePort();
  const hostKey = path.join(dir, 'host_ed25519');
  const keyPath = path.join(dir, 'client_ed25519');
  execFileSync('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  execFileSync('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyPath]);
  writeFileSync(path.join(dir, 'authorized_keys'), readFileSync(`${keyPath}.pub`));
  const knownHosts = path.join(dir, 'known_hosts');
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${readFileSync(`${hostKey}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ')}\n`);
  const emptyKnownHosts = path.join(dir, 'known_hosts.empty');
  writeFileSync(emptyKnownHosts, '');
  const setEnv = Object.entries(env)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(' ');
  const config = path.join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `PidFile ${dir}/sshd.pid`,
      `AuthorizedKeysFile ${dir}/authorized_keys`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password',
      'UsePAM no',
      'StrictModes no',
      'MaxStartups 100:30:200',
      'MaxSessions 100',
      ...(setEnv ? [`SetEnv ${setEnv}`] : []),
      '',
    ].join('\n'),
  );
  mkdirSync('/run/sshd', { recursive: true });
  const child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const deadline = Date.now() + 10_000;
  for (;;) {
    const probe = spawnSync('/usr/bin/ssh', ['-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-i', keyPath, '-p', String(port), 'root@127.0.0.1', 'true'], {
      encoding: 'utf8',
      timeout: 5000,
    });
    if (probe.status === 0) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`sshd did not accept the test key: ${probe.stderr} ${stderr}`);
    }
    await sleep(100);
  }
  return {
    port,
    host: '127.0.0.1',
    user: 'root',
    keyPath,
    knownHosts,
    emptyKnownHosts,
    stop: async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await Promise.race([new Promise((r) => child.once('exit', r)), sleep(3000)]);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
