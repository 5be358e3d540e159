import { TransientClusterError, type CommandResult, type CommandRunner } from '../operators/slurm/command-runner.ts';
import type { SlurmCluster } from '../harness/slurm.ts';

/** operators.yaml wiring `hpc.cluster` to the test cluster's Slurm (commands run locally, or over `ssh`). */
export function slurmOperatorsYaml(options: { pollSeconds?: number; lostGraceSeconds?: number; ssh?: { host: string; port: number; user: string; keyPath: string; knownHosts: string }; workspaceRoot?: string; extra?: string[] } = {}): string {
  const lines = [
    'defaults:',
    '  default_operator: hpc.cluster',
    'operators:',
    '  hpc.cluster:',
    '    kind: hpc',
    '    backend:',
    '      type: slurm',
    `      workspace_root: ${options.workspaceRoot ?? '/tmp/ms-slurm-remote'}`,
    '      partition: debug',
    `      poll_interval_seconds: ${options.pollSeconds ?? 1}`,
    `      lost_grace_seconds: ${options.lostGraceSeconds ?? 20}`,
    '      sbatch_options: ["--nodes=1"]',
    ...(options.extra ?? []).map((l) => `      ${l}`),
  ];
  if (options.ssh) {
    const s = options.ssh;
    lines.push('      ssh:', `        host: ${s.host}`, `        port: ${s.port}`, `        user: ${s.user}`, `        key_path: ${s.keyPath}`, `        known_hosts: ${s.knownHosts}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Points this worker's Slurm clients at the test cluster (vitest runs each file in its own process). */
export function useCluster(cluster: SlurmCluster): void {
  Object.assign(process.env, cluster.env);
}

/** Job ids squeue lists as still alive (not finished) on the test cluster. */
export function liveJobs(cluster: SlurmCluster): Map<string, string> {
  const out = cluster.exec(['squeue', '--noheader', '--states=all', '--format=%i|%j|%T']);
  const jobs = new Map<string, string>();
  for (const line of out.split('\n')) {
    const [id, , state] = line.trim().split('|');
    if (id && state) jobs.set(id, state);
  }
  return jobs;
}

/** A scripted cluster: answers squeue/sbatch/scontrol from a job table; can fail on demand. */
export class FakeRunner implements CommandRunner {
  readonly remote = false;
  readonly target = 'fake';
  readonly calls: string[][] = [];
  jobs = new Map<string, { name: string; state: string }>();
  failNext: string[] = [];
  private next = 100;
  async run(argv: readonly string[]): Promise<CommandResult> {
    this.calls.push([...argv]);
    const [cmd] = argv;
    const fail = this.failNext.indexOf(cmd!);
    if (fail >= 0) {
      this.failNext.splice(fail, 1);
      throw new TransientClusterError(`${cmd}: command not found`);
    }
    if (cmd === 'sbatch') {
      const id = String(this.next++);
      const name = argv.find((a) => a.startsWith('--job-name='))!.slice(11);
      this.jobs.set(id, { name, state: 'PENDING' });
      return { code: 0, stdout: `${id}\n`, stderr: '' };
    }
    if (cmd === 'squeue') {
      const byName = argv.find((a) => a.startsWith('--name='))?.slice(7);
      const lines = [...this.jobs].filter(([, j]) => byName === undefined || j.name === byName).map(([id, j]) => `${id}|${j.name}|${j.state}|None`);
      return { code: 0, stdout: lines.join('\n'), stderr: '' };
    }
    if (cmd === 'scontrol') return { code: 1, stdout: '', stderr: 'slurm_load_jobs error: Invalid job id specified' };
    if (cmd === 'scancel') return { code: 0, stdout: '', stderr: '' };
    return { code: 127, stdout: '', stderr: 'unknown' };
  }
  async push(): Promise<void> {}
  async pull(): Promise<void> {}
  count(cmd: string): number {
    return this.calls.filter((c) => c[0] === cmd).length;
  }
}
