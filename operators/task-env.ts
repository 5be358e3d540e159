/**
 * The environment a task process gets: never the orchestrator's own (which may hold
 * `MS_ORCHESTRATOR_PASSWORD`, the NATS URL or any other secret), but this allow-list of the
 * orchestrator's variables, then the task's declared `env`, then MatterStack's task variables.
 * README (Operators) lists the same names: keep them in step.
 */
const ALLOWED_NAMES: ReadonlySet<string> = new Set(['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LANGUAGE', 'TZ', 'TERM', 'TMPDIR', 'TMP', 'TEMP']);
const ALLOWED_PREFIXES: readonly string[] = ['LC_'];

/** The allow-list as people read it (`LC_*`: every variable starting with `LC_`), for help texts. */
export const TASK_ENV_ALLOW_LIST: string = [...ALLOWED_NAMES, ...ALLOWED_PREFIXES.map((prefix) => `${prefix}*`)].join(' ');

/**
 * What Slurm's own commands (and, through sbatch's default `--export=ALL`, a batch job) may see
 * besides the allow-list: the Slurm client settings and the module system of the cluster.
 */
const SLURM_NAMES: ReadonlySet<string> = new Set(['MODULEPATH', 'MODULESHOME']);
const SLURM_PREFIXES: readonly string[] = ['SLURM_', 'SBATCH_', 'LMOD_'];

function pick(from: NodeJS.ProcessEnv, names: ReadonlySet<string>, prefixes: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(from)) {
    if (value !== undefined && (names.has(key) || prefixes.some((prefix) => key.startsWith(prefix)))) out[key] = value;
  }
  return out;
}

/** The allow-listed variables of `from` (by default the orchestrator's environment). */
export function allowedEnv(from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return pick(from, ALLOWED_NAMES, ALLOWED_PREFIXES);
}

/** The allow-list plus Slurm client and module-system variables: the environment of local `sbatch`, `squeue`... */
export function slurmCommandEnv(from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return { ...allowedEnv(from), ...pick(from, SLURM_NAMES, SLURM_PREFIXES) };
}

/** MatterStack's variables of one attempt, set last (a task cannot override them). */
export interface TaskVariables {
  runId: string;
  taskId: string;
  attemptId: string;
  /** The attempt folder as the task sees it (on a cluster: the job directory). */
  attemptDir: string;
}

/** The task's declared `env` and MatterStack's variables (nothing of the orchestrator's). */
export function declaredTaskEnv(declared: Readonly<Record<string, string>> | undefined, vars: TaskVariables): Record<string, string> {
  return {
    ...declared,
    MATTERSTACK_RUN_ID: vars.runId,
    MATTERSTACK_TASK_ID: vars.taskId,
    MATTERSTACK_ATTEMPT_ID: vars.attemptId,
    MATTERSTACK_ATTEMPT_DIR: vars.attemptDir,
  };
}

/** The full environment of a task process started on this machine. */
export function taskProcessEnv(declared: Readonly<Record<string, string>> | undefined, vars: TaskVariables): Record<string, string> {
  return { ...allowedEnv(), ...declaredTaskEnv(declared, vars) };
}
