import type { SlurmCluster } from './harness/slurm.ts';

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
