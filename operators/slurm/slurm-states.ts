import type { AttemptStatus } from '../../events/statuses.ts';

/** One job as `squeue` / `scontrol` report it. */
export interface SlurmJobInfo {
  jobId: string;
  name: string;
  /** Base state name, upper case, without suffixes (`CANCELLED by 0` → `CANCELLED`, `COMPLETING+` → `COMPLETING`). */
  state: string;
  /** Slurm's reason field (`None`, `NonZeroExitCode`, `TimeLimit`...). */
  reason?: string;
  /** `ExitCode=a:b` from scontrol: a = exit code, b = signal. */
  exitCode?: number;
  signal?: number;
}

/** Slurm states that end a job as FAILED; their name is kept in the attempt's reason. */
export const FAILED_STATES = ['FAILED', 'TIMEOUT', 'NODE_FAIL', 'OUT_OF_MEMORY', 'BOOT_FAIL', 'DEADLINE', 'PREEMPTED'] as const;
const SUBMITTED_STATES = ['PENDING', 'CONFIGURING', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED', 'RESV_DEL_HOLD'];
const RUNNING_STATES = ['RUNNING', 'COMPLETING', 'SUSPENDED', 'STOPPED', 'SIGNALING', 'STAGE_OUT', 'RESIZING', 'SPECIAL_EXIT', 'UPDATE_DB', 'POWER_UP_NODE'];
const SHORT: Record<string, string> = {
  PD: 'PENDING', CF: 'CONFIGURING', R: 'RUNNING', CG: 'COMPLETING', CD: 'COMPLETED', F: 'FAILED', TO: 'TIMEOUT', NF: 'NODE_FAIL',
  OOM: 'OUT_OF_MEMORY', BF: 'BOOT_FAIL', DL: 'DEADLINE', PR: 'PREEMPTED', CA: 'CANCELLED', S: 'SUSPENDED', ST: 'STOPPED', RQ: 'REQUEUED',
  RH: 'REQUEUE_HOLD', RF: 'REQUEUE_FED', RS: 'RESIZING', RD: 'RESV_DEL_HOLD', RV: 'REVOKED', SI: 'SIGNALING', SE: 'SPECIAL_EXIT', SO: 'STAGE_OUT',
};

/** `CANCELLED by 1000`, `COMPLETING+`, `cd` → `CANCELLED`, `COMPLETING`, `COMPLETED`. */
export function normalizeSlurmState(raw: string): string {
  const base = raw.trim().split(/[\s+]/)[0]?.toUpperCase() ?? '';
  return SHORT[base] ?? base;
}

/** Attempt status for a Slurm state (SPEC §2); unknown states count as still running. */
export function attemptStatusOf(state: string): AttemptStatus {
  const s = normalizeSlurmState(state);
  if (SUBMITTED_STATES.includes(s)) return 'SUBMITTED';
  if (RUNNING_STATES.includes(s)) return 'RUNNING';
  if (s === 'COMPLETED') return 'COMPLETED';
  if (s === 'CANCELLED' || s === 'REVOKED') return 'CANCELLED';
  if ((FAILED_STATES as readonly string[]).includes(s)) return 'FAILED';
  return 'RUNNING';
}

/** The attempt's view of a job: terminal failures keep the Slurm state name in the reason. */
export function pollResultOf(job: SlurmJobInfo, exitCode?: number | null): { status: AttemptStatus; reason?: string } {
  const status = attemptStatusOf(job.state);
  if (status === 'FAILED') {
    const code = exitCode ?? job.exitCode;
    const details = [`Slurm job ${job.jobId}`];
    if (code !== undefined && code !== null) details.push(`exit code ${code}`);
    if (job.signal) details.push(`signal ${job.signal}`);
    return { status, reason: `${job.state}: ${details.join(', ')}` };
  }
  if (status === 'CANCELLED') return { status, reason: `CANCELLED: Slurm job ${job.jobId}` };
  return { status };
}

/** Format given to `squeue -o`: id, name, state, reason. */
export const SQUEUE_FORMAT = '%i|%j|%T|%r';

/** Parses `squeue --noheader -o '%i|%j|%T|%r'` output (array tasks and odd lines are skipped). */
export function parseSqueue(text: string): Map<string, SlurmJobInfo> {
  const jobs = new Map<string, SlurmJobInfo>();
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '') continue;
    const parts = trimmed.split('|');
    if (parts.length < 3) continue;
    const [jobId = '', ...rest] = parts;
    // The name may contain '|': state and reason are the last two fields.
    const reason = rest.length >= 3 ? rest.pop() : undefined;
    const state = rest.pop() ?? '';
    const name = rest.join('|');
    if (!/^\d+$/.test(jobId.trim())) continue;
    jobs.set(jobId.trim(), { jobId: jobId.trim(), name, state: normalizeSlurmState(state), ...(reason !== undefined ? { reason: reason.trim() } : {}) });
  }
  return jobs;
}

/** Parses `scontrol -o show job <id>` (one line of Key=Value pairs); null when it names no job. */
export function parseScontrolJob(text: string): SlurmJobInfo | null {
  const line = text.split('\n').find((l) => l.includes('JobId='));
  if (line === undefined) return null;
  const field = (key: string): string | undefined => {
    const match = new RegExp(`(?:^|\\s)${key}=(\\S*)`).exec(line);
    return match?.[1];
  };
  const jobId = field('JobId');
  const state = field('JobState');
  if (jobId === undefined || state === undefined) return null;
  const info: SlurmJobInfo = { jobId, name: field('JobName') ?? '', state: normalizeSlurmState(state) };
  const reason = field('Reason');
  if (reason !== undefined) info.reason = reason;
  const exit = /^(\d+):(\d+)$/.exec(field('ExitCode') ?? '');
  if (exit) {
    info.exitCode = Number(exit[1]);
    info.signal = Number(exit[2]);
  }
  return info;
}

/** The `sacct` query for one job: allocation line only, parsable, no header. */
export function sacctArgv(jobId: string): string[] {
  return ['sacct', '-j', jobId, '-X', '-n', '-P', '-o', 'JobID,JobName,State,ExitCode'];
}

/** Parses `sacct -X -n -P -o JobID,JobName,State,ExitCode` for one job; null when it lists none. */
export function parseSacct(text: string, jobId: string): SlurmJobInfo | null {
  for (const line of text.split('\n')) {
    const [id, name, state, exitCode] = line.trim().split('|');
    if (id !== jobId || state === undefined || state === '') continue;
    const info: SlurmJobInfo = { jobId, name: name ?? '', state: normalizeSlurmState(state) };
    const exit = /^(\d+):(\d+)$/.exec(exitCode ?? '');
    if (exit) {
      info.exitCode = Number(exit[1]);
      info.signal = Number(exit[2]);
    }
    return info;
  }
  return null;
}

/** True when Slurm's error text says the job id is unknown (purged after MinJobAge, or never existed). */
export function isInvalidJobId(stderr: string): boolean {
  return /Invalid job id/i.test(stderr);
}

/** `sbatch --parsable` prints `<jobid>` or `<jobid>;<cluster>`. */
export function parseSbatchParsable(stdout: string): string | null {
  const line = stdout.trim().split('\n').pop()?.trim() ?? '';
  const id = line.split(';')[0] ?? '';
  return /^\d+$/.test(id) ? id : null;
}
