import type { RunDelta } from './live-deltas.ts';

/** Rows of one shape as their field names once and each row's values in that order. */
export interface Columns {
  columns: string[];
  rows: unknown[][];
}

/**
 * `rows` as Columns: a delta's thousands of rows without each row's field names are about half
 * the bytes, and every open page downloads and parses every delta (web/client/row-columns.ts reads it).
 */
export function toColumns<T extends object>(rows: readonly T[]): Columns {
  const columns = rows.length === 0 ? [] : Object.keys(rows[0] as object);
  return { columns, rows: rows.map((row) => columns.map((name) => (row as Record<string, unknown>)[name])) };
}

/** A delta as the live feed sends it: its tasks as Columns, and its attempts as Columns when `attempts` (else none: the page did not ask). */
export function deltaOnWire(delta: RunDelta, attempts: boolean): Omit<RunDelta, 'tasks' | 'attempts'> & { tasks: Columns; attempts?: Columns } {
  const { attempts: rows, ...rest } = delta;
  return { ...rest, tasks: toColumns(delta.tasks), ...(attempts ? { attempts: toColumns(rows) } : {}) };
}
