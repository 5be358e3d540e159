import { z } from 'zod';

const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Run, task and attempt ids: they appear in NATS subjects and file paths. */
export const IdSchema = z.string().regex(ID_PATTERN, 'must be 1-64 letters, digits, "_" or "-"');

/** A workspace slug: id segments separated by "/" (e.g. `demos/battery_screening`). */
export const WorkspaceSlugSchema = z
  .string()
  .min(1)
  .refine((slug) => slug.split('/').every((segment) => ID_PATTERN.test(segment)), {
    message: 'must be "/"-separated segments of letters, digits, "_" or "-"',
  });

/** True when `value` is a valid id. */
export function isValidId(value: string): boolean {
  return ID_PATTERN.test(value);
}

/** The deterministic id of a task's n-th attempt (1-based). */
export function attemptIdFor(taskId: string, attemptNumber: number): string {
  return `${taskId}-a${attemptNumber}`;
}
