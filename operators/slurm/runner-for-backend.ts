import type { BackendConfig } from '../../workspace/operators-config.ts';
import { LocalCommandRunner, SshCommandRunner, type CommandRunner } from './command-runner.ts';

type SlurmBackend = Extract<BackendConfig, { type: 'slurm' }>;

/** The runner a backend config asks for: `ssh` to a login node, or the local Slurm commands. */
export function runnerForBackend(backend: SlurmBackend): CommandRunner {
  if (backend.ssh === undefined) return new LocalCommandRunner();
  const { ssh } = backend;
  return new SshCommandRunner({
    host: ssh.host,
    port: ssh.port,
    ...(ssh.user !== undefined ? { user: ssh.user } : {}),
    ...(ssh.key_path !== undefined ? { keyPath: ssh.key_path.replace(/^~(?=\/)/, process.env.HOME ?? '~') } : {}),
    ...(ssh.known_hosts !== undefined ? { knownHosts: ssh.known_hosts.replace(/^~(?=\/)/, process.env.HOME ?? '~') } : {}),
    acceptUnknownHostKeys: ssh.accept_unknown_host_keys,
  });
}
