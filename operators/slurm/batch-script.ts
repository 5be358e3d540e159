import type { TaskSpec } from '../../events/workflow.ts';
import { MARKER_DIR } from '../attempt-folder.ts';
import { declaredTaskEnv } from '../task-env.ts';
import { shellQuote } from './command-runner.ts';

/**
 * Files of a Slurm attempt, relative to the attempt folder (posix: also the job directory's).
 * The bookkeeping ones are markers, in the marker folder where the task does not write.
 */
export const SLURM_FILES = {
  script: `${MARKER_DIR}/submit.sh`,
  exitCode: `${MARKER_DIR}/exit_code`,
  /** Written before `sbatch` runs: a restart that finds it looks the job up by name instead of submitting again. */
  submitting: `${MARKER_DIR}/slurm_submitting.json`,
  /** `{jobId, submittedAt}` once `sbatch` answered. */
  job: `${MARKER_DIR}/slurm_job.json`,
  /** `{since, retries, error}` while the cluster cannot be reached for this attempt (removed on recovery); read by explain. */
  unreachable: `${MARKER_DIR}/cluster_unreachable.json`,
  /** `{reason}` once cancel was asked (before `scancel`). */
  cancelled: `${MARKER_DIR}/slurm_cancelled.json`,
  stdout: 'stdout.log',
  stderr: 'stderr.log',
} as const;

/** Site settings from operators.yaml that shape every job. */
export interface SlurmSiteOptions {
  partition?: string;
  account?: string;
  qos?: string;
  /** Free-form `slurm: {key: value}` entries: `--key=value` unless the task already set `key`. */
  slurm?: Record<string, unknown>;
  /** Extra raw sbatch options, e.g. `--constraint=haswell`. */
  sbatchOptions?: readonly string[];
  /** Raw shell lines run before the command (`module load ...`). */
  modules?: readonly string[];
}

/** What the script needs about the attempt. */
export interface BatchScriptInput {
  runId: string;
  attemptId: string;
  task: TaskSpec;
  /** Directory the job runs in, on the cluster (the attempt directory, or its remote copy). */
  jobDir: string;
  site: SlurmSiteOptions;
}

/** Slurm takes whole minutes: a fractional limit is rounded up (at least 1). */
export function slurmMinutes(minutes: number): number {
  return Math.max(1, Math.ceil(minutes));
}

/** `#SBATCH` options for the task's resources and the site settings (task values take precedence). */
export function sbatchOptions(input: BatchScriptInput): string[] {
  const { task, site } = input;
  const set = new Map<string, string | null>();
  if (task.timeLimitMinutes !== undefined) set.set('time', String(slurmMinutes(task.timeLimitMinutes)));
  if (task.cores !== undefined) set.set('cpus-per-task', String(task.cores));
  if (task.memoryGb !== undefined) set.set('mem', `${Math.max(1, Math.ceil(task.memoryGb * 1024))}M`);
  if (task.gpus !== undefined && task.gpus > 0) set.set('gres', `gpu:${task.gpus}`);
  const siteValue = (key: string, value: unknown): void => {
    if (set.has(key) || value === undefined || value === null || value === false || value === '') return;
    set.set(key, value === true ? null : String(value));
  };
  siteValue('partition', site.partition);
  siteValue('account', site.account);
  siteValue('qos', site.qos);
  for (const [key, value] of Object.entries(site.slurm ?? {})) {
    if (key === 'modules') continue;
    if (!/^[a-z][a-z0-9-]*$/.test(key)) continue;
    siteValue(key, value);
  }
  const lines = [...set].map(([key, value]) => (value === null ? `--${key}` : `--${key}=${value}`));
  for (const raw of site.sbatchOptions ?? []) lines.push(raw);
  // #SBATCH lines are not shell: keep them on one line, no newlines smuggled in.
  return lines.map((line) => line.replace(/[\r\n]/g, ' '));
}

/**
 * The batch script: resources as `#SBATCH` lines, the task's env, then the command in a
 * wrapper that writes its exit code to `.matterstack/exit_code` in the job directory when it ends — also
 * when Slurm signals the job (time limit, scancel), so a job Slurm has forgotten still has
 * an outcome on disk. Job name, output files and the working directory are passed on the
 * `sbatch` command line (argv, never parsed from text).
 */
export function renderBatchScript(input: BatchScriptInput): string {
  const { task, jobDir } = input;
  const command = task.command;
  if (command === undefined) throw new Error(`task ${task.id} has no command`);
  const commandLine = typeof command === 'string' ? `/bin/sh -c ${shellQuote(command)}` : command.map(shellQuote).join(' ');
  const env = declaredTaskEnv(task.env, { runId: input.runId, taskId: task.id, attemptId: input.attemptId, attemptDir: jobDir });
  const exports = Object.entries(env)
    .filter(([key]) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(key))
    .map(([key, value]) => `export ${key}=${shellQuote(value)}`);
  const modules = (input.site.modules ?? []).map((line) => line.replace(/[\r\n]/g, ' '));
  const exitFile = shellQuote(`${jobDir}/${SLURM_FILES.exitCode}`);
  const tmpFile = shellQuote(`${jobDir}/${SLURM_FILES.exitCode}.tmp`);
  return [
    '#!/bin/bash',
    `# MatterStack attempt ${input.attemptId} of task ${task.id} (run ${input.runId})`,
    ...sbatchOptions(input).map((option) => `#SBATCH ${option}`),
    '',
    ...modules,
    ...(modules.length > 0 ? [''] : []),
    ...exports,
    '',
    `cd ${shellQuote(jobDir)} || exit 1`,
    'ms_record() { printf \'%s\\n\' "$1" > ' + tmpFile + ' && mv -f ' + tmpFile + ' ' + exitFile + '; }',
    "trap 'ms_record 143; exit 143' TERM",
    "trap 'ms_record 130; exit 130' INT",
    `${commandLine} &`,
    'ms_child=$!',
    // `wait` returns early when a trapped signal arrives; a plain foreground command would defer the trap.
    'wait "$ms_child"',
    'ms_code=$?',
    'ms_record "$ms_code"',
    'exit "$ms_code"',
    '',
  ].join('\n');
}

/** sbatch argv for a script already in place in `jobDir`. */
export function sbatchArgv(input: BatchScriptInput): string[] {
  const { jobDir } = input;
  return [
    'sbatch',
    '--parsable',
    `--job-name=${input.attemptId}`,
    `--chdir=${jobDir}`,
    `--output=${jobDir}/${SLURM_FILES.stdout}`,
    `--error=${jobDir}/${SLURM_FILES.stderr}`,
    `${jobDir}/${SLURM_FILES.script}`,
  ];
}
