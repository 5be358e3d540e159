import { constants, lstatSync, type Stats } from 'node:fs';
import { open, realpath, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage, MatterStackError } from '../events/errors.ts';
import { isJsonValue, isPlainObject, type JsonObject } from '../events/json.ts';
import { isInside } from '../workspace/workspace-paths.ts';

/**
 * Default cap on `results.json` (its file and the data the log keeps), in bytes: 1 MB leaves room
 * for the rest of the record under NATS's default 1 MiB max_payload. operators.yaml:
 * `defaults.max_results_bytes`.
 */
export const DEFAULT_MAX_RESULTS_BYTES = 1_000_000;

// Never follows a final link by itself, never waits for a FIFO's writer.
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

function invalid(name: string, why: string): MatterStackError {
  return new MatterStackError('RESULTS_INVALID', `${name} ${why}`, { file: name });
}

function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  return 'not a file';
}

/** The file a link at `file` leads to, when it stays inside `dir`; RESULTS_INVALID otherwise. */
async function linkTargetInside(dir: string, file: string, name: string): Promise<string> {
  let target: string;
  try {
    target = await realpath(file);
  } catch (error) {
    throw invalid(name, `is a symbolic link that leads nowhere (${errorMessage(error)})`);
  }
  if (!isInside(await realpath(dir), target)) throw invalid(name, 'is a symbolic link leading out of the attempt folder: not followed');
  return target;
}

/** The file's `size` bytes; one more read tells whether it grew meanwhile (then undefined). */
async function readExactly(handle: FileHandle, size: number): Promise<Buffer | undefined> {
  // Sized by the file, not by the limit: most results are small, and a collect must stay cheap.
  const buffer = Buffer.alloc(size + 1);
  let length = 0;
  while (length < buffer.length) {
    const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
    if (bytesRead === 0) break;
    length += bytesRead;
  }
  return length > size ? undefined : buffer.subarray(0, length);
}

/**
 * The text of `dir/name`, or undefined when there is none. Reads only a regular file inside `dir`
 * (a link is followed only when it stays inside), never blocks on a FIFO, and never more than
 * `maxBytes`. Anything else is RESULTS_INVALID naming the file and why.
 */
export async function readAttemptFile(dir: string, name: string, maxBytes: number): Promise<string | undefined> {
  let file = path.join(dir, name);
  // Synchronous, and no error made for a missing file: most tasks write no results.json, and each collect asks.
  const stats = lstatSync(file, { throwIfNoEntry: false });
  if (stats === undefined) return undefined;
  if (stats.isSymbolicLink()) file = await linkTargetInside(dir, file, name);
  let handle;
  try {
    handle = await open(file, OPEN_FLAGS);
  } catch (error) {
    // ENXIO: a socket; ELOOP: replaced by a link since the check above.
    throw invalid(name, `cannot be read as a regular file (${(error as NodeJS.ErrnoException).code ?? errorMessage(error)})`);
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw invalid(name, `is not a regular file (${kindOf(stats)})`);
    if (stats.size > maxBytes) throw invalid(name, `is ${stats.size} bytes, ${overLimit(maxBytes)}`);
    const bytes = await readExactly(handle, stats.size);
    if (bytes === undefined) throw invalid(name, 'grew while being read (is a process of the task still writing it?)');
    return bytes.toString('utf8');
  } finally {
    await handle.close();
  }
}

function overLimit(maxBytes: number): string {
  return `over the limit of ${maxBytes} bytes (defaults.max_results_bytes in operators.yaml)`;
}

/**
 * The JSON object in `dir/name` (a task's `results.json`), or undefined when there is none. Read
 * as readAttemptFile does; anything but a JSON object within `maxBytes` is RESULTS_INVALID naming
 * the file and why.
 */
export async function readResultsFile(dir: string, name: string, maxBytes: number): Promise<JsonObject | undefined> {
  const text = await readAttemptFile(dir, name, maxBytes);
  if (text === undefined) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw invalid(name, `is not valid JSON: ${errorMessage(error)}`);
  }
  if (!isPlainObject(raw)) throw invalid(name, `must hold a JSON object, not ${Array.isArray(raw) ? 'an array' : raw === null ? 'null' : `a ${typeof raw}`}`);
  if (!isJsonValue(raw)) throw invalid(name, 'is nested more than 200 levels deep or has a "__proto__" key');
  // What the log keeps is the data re-serialised: `1e21` grows to `1e+21`, `9e20` to 21 digits.
  const kept = Buffer.byteLength(JSON.stringify(raw));
  if (kept > maxBytes) throw invalid(name, `takes ${kept} bytes once re-serialised, ${overLimit(maxBytes)}`);
  return raw as JsonObject;
}
