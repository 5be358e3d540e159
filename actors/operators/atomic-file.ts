import { randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * Writes `content` to `file` via a temporary file and a rename, so readers never see half a file
 * (and a shell already running the old file keeps reading the old one). The temporary file is
 * created exclusively: a link planted under its name is never written through.
 */
export async function writeFileAtomic(file: string, content: string, mode?: number): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(4).toString('hex')}.tmp`);
  await writeFile(tmp, content, { flag: 'wx', ...(mode === undefined ? {} : { mode }) });
  await rename(tmp, file);
}

/** The file's text, or null when it does not exist. */
export async function readTextIfExists(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
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
