import { mkdir, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { readJsonFile, writeFileAtomic } from '../operators/atomic-file.ts';
import { isProcessAlive, readProcStat } from '../operators/process-group.ts';

/**
 * Who drives a run right now (a `loop`, a worker), recorded in the run folder for `explain`.
 * Information only, never a lock: one writer per run is enforced by the log (DESIGN §5).
 */
const DriverSchema = z.object({
  driver: z.string(),
  pid: z.number().int(),
  procStartTime: z.number().int().nullable(),
  host: z.string(),
  since: z.string(),
  /** Hosts the run for a moment only (a `cancel` stopping attempts): a `loop` starting meanwhile waits for it. */
  transient: z.boolean().optional(),
});
export type DriverRecord = z.output<typeof DriverSchema>;

/**
 * The driver as `explain` shows it; `checked`: its process was seen alive (same host) or it holds
 * the run's lease, else it could not be checked from here. pid, host and since: from the record
 * (null when only the lease names it).
 */
export interface RunDriver {
  driver: string;
  pid: number | null;
  host: string | null;
  since: string | null;
  checked: boolean;
}

function driverFile(runDir: string): string {
  return path.join(runDir, '.matterstack', 'driver.json');
}

/** Records this process as the driver of the run in `runDir`; the returned function removes the record (if still ours). */
export async function markDriver(runDir: string, driver: string, transient = false): Promise<() => Promise<void>> {
  const file = driverFile(runDir);
  const record: DriverRecord = {
    driver,
    pid: process.pid,
    procStartTime: readProcStat(process.pid)?.startTime ?? null,
    host: hostname(),
    since: new Date().toISOString(),
    ...(transient ? { transient } : {}),
  };
  try {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFileAtomic(file, `${JSON.stringify(record)}\n`);
  } catch {
    // Only explain reads it: a read-only run folder must not stop the run.
    return async () => undefined;
  }
  return async () => {
    const current = DriverSchema.safeParse(await readJsonFile(file));
    if (current.success && current.data.pid === record.pid && current.data.host === record.host) await rm(file, { force: true });
  };
}

/** The process driving the run in `runDir`, or null when none is recorded or the recorded one has died (same host). */
export async function currentDriver(runDir: string): Promise<RunDriver | null> {
  const found = await recordedDriver(runDir);
  if (found === null) return null;
  const { transient: _transient, ...driver } = found;
  return driver;
}

/** As `currentDriver`, with whether that driver hosts the run for a moment only. */
export async function recordedDriver(runDir: string): Promise<(RunDriver & { transient: boolean }) | null> {
  const parsed = DriverSchema.safeParse(await readJsonFile(driverFile(runDir)));
  if (!parsed.success) return null;
  const { driver, pid, procStartTime, host, since } = parsed.data;
  const transient = parsed.data.transient ?? false;
  if (host !== hostname()) return { driver, pid, host, since, checked: false, transient };
  return isProcessAlive(pid, procStartTime) ? { driver, pid, host, since, checked: true, transient } : null;
}

/** `matterstack loop (pid 12 on lab1, since …)`, or `worker w1 (holds the run's lease)`. */
export function describeDriver(driver: RunDriver): string {
  return driver.pid === null ? `${driver.driver} (holds the run's lease)` : `${driver.driver} (pid ${driver.pid} on ${driver.host ?? '?'}, since ${driver.since ?? '?'})`;
}

/** Runs `body` with a way to record this process as the driver of runs it steps in turn (`loop` without a run id); every record is removed afterwards. */
export async function withDriverMarks<T>(driver: string, body: (mark: (runDir: string) => Promise<void>) => Promise<T>): Promise<T> {
  const marks = new Map<string, () => Promise<void>>();
  try {
    return await body(async (runDir) => {
      if (!marks.has(runDir)) marks.set(runDir, await markDriver(runDir, driver));
    });
  } finally {
    // Driver records are informational; a stale one is recognised by its dead process.
    for (const unmark of marks.values()) await unmark().catch(() => undefined);
  }
}
