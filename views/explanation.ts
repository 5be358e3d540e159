import type { AttemptStatus, RunStatus, TaskStatus } from '../events/statuses.ts';
import type { AttemptDecisionRecord } from '../machines/attempt.machine.ts';
import type { HistoryDivergence } from '../host/history-divergence.ts';
import type { RunDriver } from '../host/run-driver.ts';
import type { SharedSlotWait } from './shared-slot-wait.ts';

/** What an operator-specific hint tells a person to look at or do. */
export type OperatorHint =
  /** `decided`: the accepted decision (`approved by alice`) the host driving the run has not acted on yet, else null. */
  | { kind: 'human'; dir: string; files: string[]; approveCommand: string; rejectCommand: string; message: string | null; decided: string | null }
  | { kind: 'experiment'; dir: string; requestFile: string; resultFile: string }
  | { kind: 'local'; pid: number | null; dir: string; stdout: string; stderr: string }
  /** `unreachable`: the cluster outage the operator is riding out ("cluster unreachable since …, retry n"). */
  | { kind: 'other'; operatorKey: string; externalId: string | null; dir: string; unreachable: string | null };

/** Where a failed attempt's output is, and the end of its stderr (null when it wrote none). */
export interface FailedAttemptLogs {
  stdout: string;
  stderr: string;
  stderrTail: string | null;
}

/** Which cap keeps a ready task from starting. */
export type FullCap = { scope: 'global'; used: number; max: number } | { scope: 'operator'; key: string; used: number; max: number };

/** Why one task is not done. */
export type TaskReason =
  | {
      kind: 'waiting-operator';
      attemptId: string;
      operatorKey: string;
      attemptStatus: AttemptStatus;
      since: string | null;
      hint: OperatorHint;
      /** Not submitted yet: in line for a slot of its capped operator, whose slots runs share (null when not in line). */
      sharedSlot?: (SharedSlotWait & { cap: number }) | null;
    }
  | { kind: 'ready'; operatorKey: string; paused: boolean }
  | { kind: 'no-slot'; operatorKey: string; cap: FullCap }
  | { kind: 'no-operator'; operatorKey: string; reason: string }
  | { kind: 'blocked'; waitingOn: { id: string; status: TaskStatus }[] }
  | { kind: 'skipped'; dependency: string | null; dependencyStatus: TaskStatus | null; reason: string | null }
  | { kind: 'failed'; attemptId: string | null; reason: string | null; allowed: boolean; rerunCommand: string; logs: FailedAttemptLogs | null }
  | { kind: 'cancelled'; attemptId: string | null; reason: string | null; rerunCommand: string }
  | { kind: 'waiting-campaign'; status: TaskStatus };

/** One non-done task and why. */
export interface TaskExplanation {
  id: string;
  iteration: number;
  status: TaskStatus;
  kind: string;
  attempts: number;
  updatedAt: string | null;
  why: TaskReason;
}

/** Why the run is where it is (the `explain` view). */
export interface Explanation {
  runId: string;
  workspace: string;
  status: RunStatus;
  phase: string;
  iteration: number;
  reason: string | null;
  updatedAt: string | null;
  lastSeq: number;
  counts: Partial<Record<TaskStatus, number>>;
  slots: { used: number; max: number | null; byOperator: { key: string; used: number; max: number | null }[] };
  /** Every task that is not COMPLETED, in workflow order. */
  tasks: TaskExplanation[];
  /** Every approve / reject a gate attempt took, oldest attempt first, with its comment and data. */
  decisions: GateDecisionEntry[];
  /** The `loop` or worker driving the run right now, as recorded in the run folder. */
  driver: RunDriver | null;
  /** What a person can do now, most useful first. */
  nextSteps: string[];
  /**
   * The first record this version decides differently from its log (it then refuses to host the
   * run); the rest of the explanation is what this version makes of the log. Null when they agree.
   */
  history: HistoryDivergence | null;
}

/** One gate decision as `explain` lists it. */
export interface GateDecisionEntry extends AttemptDecisionRecord {
  taskId: string;
  attemptId: string;
}
