import { errorMessage, MatterStackError } from '../events/errors.ts';

// SQLite's own errors say what failed ("file is not a database") but not which file, nor what a
// user can do about it: every fault of a SQLite file MatterStack keeps is reworded here, once.

/** What went wrong and what to do, by SQLite primary result code (extended codes share their primary's entry). */
const FAULTS: Record<string, { cause: string; todo: string }> = {
  SQLITE_BUSY: { cause: 'locked by another process past the busy timeout', todo: 'stop the process holding it (or wait for it) and run the command again' },
  SQLITE_LOCKED: { cause: 'locked by another connection past the busy timeout', todo: 'stop the process holding it (or wait for it) and run the command again' },
  SQLITE_READONLY: { cause: 'read-only', todo: 'make the file and its folder writable by this user, then run the command again' },
  SQLITE_PERM: { cause: 'permission denied', todo: 'make the file and its folder writable by this user, then run the command again' },
  SQLITE_FULL: { cause: 'the disk is full', todo: 'free space on its disk, then run the command again' },
  SQLITE_IOERR: { cause: 'an I/O error', todo: 'check the disk it is on, then run the command again' },
  SQLITE_CORRUPT: { cause: 'malformed (the database disk image is corrupt)', todo: 'restore the file from a backup or move it away' },
  SQLITE_NOTADB: { cause: 'not a SQLite database', todo: 'restore the file from a backup or move it away' },
  SQLITE_CANTOPEN: { cause: 'cannot be opened', todo: 'check that it is a file (not a folder) in a folder this user can write' },
};

function primaryCode(code: string): string {
  const match = /^SQLITE_[A-Z]+/.exec(code);
  return match?.[0] ?? code;
}

/** True when `error` is one better-sqlite3 raised (a SqliteError with an SQLITE_* code). */
function isSqliteError(error: unknown): error is Error & { code: string } {
  if (!(error instanceof Error)) return false;
  const { code } = error as { code?: unknown };
  return typeof code === 'string' && code.startsWith('SQLITE_');
}

/** Faults of the file's content: a file derived from the log can simply be dropped instead. */
const CONTENT_FAULTS = new Set(['SQLITE_CORRUPT', 'SQLITE_NOTADB']);

/**
 * `error` reworded as STORAGE_ERROR naming `file` (what it is: "event log", "projections"), the
 * cause and what to do; anything that is not a SQLite error is returned as it is. A `derived`
 * file (the projections) is refolded from the log, so a corrupt one is deleted, not restored.
 */
export function sqliteFault(error: unknown, file: string, what: string, derived = false): unknown {
  if (!isSqliteError(error)) return error;
  const primary = primaryCode(error.code);
  const fault = FAULTS[primary];
  const cause = fault === undefined ? errorMessage(error) : `${fault.cause} (${error.code}: ${errorMessage(error)})`;
  const todo = derived && CONTENT_FAULTS.has(primary)
    ? 'delete it: the next command folds the event log into a new one'
    : (fault?.todo ?? 'check the file and run the command again');
  return new MatterStackError('STORAGE_ERROR', `${what} ${file}: ${cause}; ${todo}`, { file, sqliteCode: error.code }, { cause: error });
}
