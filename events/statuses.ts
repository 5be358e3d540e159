import { z } from 'zod';

export const RUN_STATUSES = ['PENDING', 'RUNNING', 'PAUSED', 'COMPLETED', 'FAILED', 'CANCELLED'] as const;
export const TASK_STATUSES = ['PENDING', 'WAITING_EXTERNAL', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED', 'SKIPPED'] as const;
export const ATTEMPT_STATUSES = [
  'CREATED',
  'SUBMITTED',
  'RUNNING',
  'WAITING_EXTERNAL',
  'COMPLETED',
  'FAILED',
  'FAILED_INIT',
  'CANCELLED',
] as const;
export const RUN_PHASES = ['pending', 'poll', 'plan', 'execute', 'analyze', 'waiting', 'paused', 'completed', 'failed', 'cancelled'] as const;

export const RunStatusSchema = z.enum(RUN_STATUSES);
export const TaskStatusSchema = z.enum(TASK_STATUSES);
export const AttemptStatusSchema = z.enum(ATTEMPT_STATUSES);
export const RunPhaseSchema = z.enum(RUN_PHASES);

export type RunStatus = z.infer<typeof RunStatusSchema>;
export type TaskStatus = z.infer<typeof TaskStatusSchema>;
export type AttemptStatus = z.infer<typeof AttemptStatusSchema>;
export type RunPhase = z.infer<typeof RunPhaseSchema>;

export const TERMINAL_RUN_STATUSES: readonly RunStatus[] = ['COMPLETED', 'FAILED', 'CANCELLED'];
export const ACTIVE_RUN_STATUSES: readonly RunStatus[] = ['PENDING', 'RUNNING', 'PAUSED'];
export const ACTIVE_ATTEMPT_STATUSES: readonly AttemptStatus[] = ['CREATED', 'SUBMITTED', 'RUNNING', 'WAITING_EXTERNAL'];
export const TERMINAL_TASK_STATUSES: readonly TaskStatus[] = ['COMPLETED', 'FAILED', 'CANCELLED', 'SKIPPED'];

/** True while an attempt still occupies a slot. */
export function isActiveAttemptStatus(status: AttemptStatus): boolean {
  return ACTIVE_ATTEMPT_STATUSES.includes(status);
}

/** The task status implied by its current attempt's status (SPEC.md §1). */
export function taskStatusOfAttempt(status: AttemptStatus): TaskStatus {
  switch (status) {
    case 'CREATED':
      return 'PENDING';
    case 'SUBMITTED':
    case 'WAITING_EXTERNAL':
      return 'WAITING_EXTERNAL';
    case 'RUNNING':
      return 'RUNNING';
    case 'COMPLETED':
      return 'COMPLETED';
    case 'FAILED':
    case 'FAILED_INIT':
      return 'FAILED';
    case 'CANCELLED':
      return 'CANCELLED';
  }
}
