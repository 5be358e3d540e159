// Reads the live feed's deltas, whose rows come as columns (the server's web/row-columns.ts).
import type { RunDelta } from './live-delta.ts';

/** Rows of one shape as their field names once and each row's values in that order. */
export interface Columns {
  columns: string[];
  rows: unknown[][];
}

/** The rows `columns` holds, as objects. */
export function fromColumns<T>({ columns, rows }: Columns): T[] {
  return rows.map((values) => {
    const row: Record<string, unknown> = {};
    columns.forEach((name, i) => (row[name] = values[i]));
    return row as T;
  });
}

/** A delta as the live feed sends it (attempts only to a page that asked for the run's). */
export type WireDelta = Omit<RunDelta, 'tasks' | 'attempts'> & { tasks: Columns; attempts?: Columns };

/** `delta` with its rows as objects. */
export function deltaFromWire({ attempts, ...delta }: WireDelta): RunDelta {
  return { ...delta, tasks: fromColumns(delta.tasks), ...(attempts === undefined ? {} : { attempts: fromColumns(attempts) }) };
}
