import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { MatterStackError } from '../events/errors.ts';
import { sleepUnlessAborted } from '../events/sleep.ts';
import { describeDriver, markDriver, recordedDriver } from './run-driver.ts';

/**
 * Hosting a run on the embedded log: the one process that runs its effects (a `loop`, a `step`, or a
 * `cancel` stopping its attempts when nobody else hosts the run) holds the run's host lock. The lock
 * is SQLite's write lock on `runs/<id>/.matterstack/host.lock`, an OS file lock: the kernel drops it
 * when the holder exits, kill -9 included, so a stale holder never blocks anyone. The log still
 * refuses a second writer (DESIGN §5); the lock keeps two processes from running the same effects and
 * tells a command whether a host will carry out what it asked.
 */
export interface Hosting {
  /** Gives the run up: removes this process's driver record and drops the lock. */
  release(): Promise<void>;
}

const LOCK_FILE = 'host.lock';
/** How often a waiting `loop` tries the lock again. */
const RETRY_MS = 100;
/** How long a `loop` waits for a holder that has not named itself yet (it records itself right after locking). */
const UNNAMED_HOLDER_GRACE_MS = 2_000;
/** How long a `loop` waits for a command hosting the run for a moment (a cancel waits 30 s by default). */
const TRANSIENT_HOLDER_LIMIT_MS = 5 * 60_000;

/** The lock itself: a connection holding a write transaction; undefined while another process holds it. */
function lockFile(runDir: string): { close(): void } | undefined {
  const dir = path.join(runDir, '.matterstack');
  let db: Database.Database;
  try {
    fs.mkdirSync(dir, { recursive: true });
    db = new Database(path.join(dir, LOCK_FILE), { timeout: 0 });
    // Nothing is ever written: no journal file to leave behind.
    db.pragma('journal_mode = MEMORY');
  } catch {
    // A run folder where no lock file can be made (read-only): hosting is then guarded by the log alone, as before the lock.
    return { close: () => undefined };
  }
  try {
    db.exec('BEGIN IMMEDIATE');
  } catch (error) {
    db.close();
    if ((error as { code?: unknown }).code === 'SQLITE_BUSY') return undefined;
    // Same as an unwritable folder: the log alone guards the run.
    return { close: () => undefined };
  }
  return { close: () => db.close() };
}

/**
 * Hosts the run in `runDir` if no other process does: takes the lock and records this process as
 * its driver (`transient`: for a moment only, so a starting `loop` waits for it). Undefined, with
 * nothing changed, while another process hosts the run.
 */
export async function tryHostRun(runDir: string, driver: string, transient = false): Promise<Hosting | undefined> {
  const lock = lockFile(runDir);
  if (lock === undefined) return undefined;
  // A `loop` over every run records itself once for all its steps: its record stays as it is.
  const existing = await recordedDriver(runDir);
  const unmark = existing?.checked === true && existing.pid === process.pid ? async () => undefined : await markDriver(runDir, driver, transient);
  return {
    release: async () => {
      // The driver record is informational (a stale one is recognised by its dead process): the lock goes regardless.
      await unmark().catch(() => undefined);
      lock.close();
    },
  };
}

/**
 * Hosts the run for a `loop` or `step`: waits while a command hosts it for a moment (a cancel
 * stopping attempts, a `step`), and refuses (COMMAND_REJECTED, reason "hosted") while another loop or program
 * drives it, so the run's effects never run twice.
 */
export async function hostRunOrRefuse(runDir: string, runId: string, driver: string, options: { transient?: boolean; signal?: AbortSignal } = {}): Promise<Hosting> {
  const started = Date.now();
  const signal = options.signal ?? new AbortController().signal;
  for (;;) {
    const hosting = await tryHostRun(runDir, driver, options.transient);
    if (hosting !== undefined) return hosting;
    const holder = await recordedDriver(runDir);
    const waited = Date.now() - started;
    const keepWaiting = holder === null ? waited < UNNAMED_HOLDER_GRACE_MS : holder.transient && waited < TRANSIENT_HOLDER_LIMIT_MS;
    if (!keepWaiting || signal.aborted) {
      const who = holder === null ? 'another process' : describeDriver(holder);
      throw new MatterStackError('COMMAND_REJECTED', `run ${runId} is hosted by ${who}, which drives it already: let it finish or stop it, then try again`, {
        runId,
        holder: who,
        reason: 'hosted',
      });
    }
    await sleepUnlessAborted(RETRY_MS, signal);
  }
}
