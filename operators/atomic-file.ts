import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';

/**
 * Writes `content` to `file` via a temporary file and a rename, so readers never see half a file
 * (and a shell already running the old file keeps reading the old one), and durably: the data is
 * on disk before the rename and the rename before this resolves, so after a crash (process or
 * power) `file` holds the old content or the new one, never an empty or partial file. The
 * temporary file is created exclusively: a link planted under its name is never written through.
 */
export async function writeFileAtomic(file: string, content: string, mode?: number): Promise<void> {
  await commitTempFile(await writeTempFile(file, content, mode), file);
}

/**
 * First step of `writeFileAtomic`: `content` in a new temporary file beside `file`, flushed to
 * disk; returns its path. A process killed after it leaves that file behind: its name
 * (`.<name>.<random>.tmp`) is never read as `file`, and the next write picks another name.
 */
export async function writeTempFile(file: string, content: string, mode?: number): Promise<string> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(tmp, 'wx', mode);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(tmp, { force: true });
    throw error;
  }
  await handle.close();
  return tmp;
}

/** Second step of `writeFileAtomic`: renames `tmp` over `file`, then flushes the directory so the rename survives a power loss. */
export async function commitTempFile(tmp: string, file: string): Promise<void> {
  try {
    await rename(tmp, file);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  await syncDirectory(path.dirname(file));
}

/** fsyncs a directory (its entries: a rename or a new file in it). */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch (error) {
    // Some filesystems (network mounts) cannot fsync a directory: the rename is then as durable as they make it.
    if ((error as NodeJS.ErrnoException).code !== 'EINVAL') throw error;
  } finally {
    await handle.close();
  }
}

/** Null for a read of a file that does not exist; any other error is thrown on. */
function nullIfMissing(error: unknown): null {
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
  throw error;
}

/** The file's text, or null when it does not exist. */
export function readTextIfExists(file: string): Promise<string | null> {
  return readFile(file, 'utf8').catch(nullIfMissing);
}

/** The file's text, or null when it does not exist (synchronous: for small local markers). */
export function readTextIfExistsSync(file: string): string | null {
  // A stat that makes no error object first: the markers asked for are most often not there yet.
  if (statSync(file, { throwIfNoEntry: false }) === undefined) return null;
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    return nullIfMissing(error);
  }
}

/** The parsed JSON content of `file`, or null when it is missing or not JSON (callers check the shape). */
export async function readJsonFile<T>(file: string): Promise<T | null> {
  const text = await readTextIfExists(file);
  if (text === null) return null;
  try {
    return JSON.parse(text) as T;
  } catch {
    return null;
  }
}
