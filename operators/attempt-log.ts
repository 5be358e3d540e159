import { open, stat } from 'node:fs/promises';

/** The two output streams of an attempt's process. */
export type LogStream = 'stdout' | 'stderr';

/** A log read piece by piece (never loaded whole: logs reach gigabytes). */
export interface LogSource {
  /** Where it is, for people (`/abs/path/stdout.log`, `ssh user@host:22:/scratch/.../stdout.log`). */
  readonly where: string;
  /** Its current size in bytes, or null when it does not exist (yet). */
  size(): Promise<number | null>;
  /** Up to `maxBytes` bytes from `offset` (fewer at the end of the file). */
  read(offset: number, maxBytes: number): Promise<Buffer>;
}

/** Where an operator keeps one stream of an attempt: the file in the attempt folder, and the live copy elsewhere (a cluster) when there is one. */
export interface AttemptLogFiles {
  /** Absolute path in the attempt folder (for remote jobs: the copy fetched back when the attempt ends). */
  local: string;
  /** Where the job writes it while it runs, when that is not `local`. */
  remote?: LogSource;
}

/** A log file on this machine. */
export function fileLogSource(file: string): LogSource {
  return {
    where: file,
    async size() {
      try {
        const info = await stat(file);
        return info.isFile() ? info.size : null;
      } catch {
        return null;
      }
    },
    async read(offset, maxBytes) {
      const handle = await open(file, 'r');
      try {
        const buffer = Buffer.alloc(maxBytes);
        const { bytesRead } = await handle.read(buffer, 0, maxBytes, offset);
        return buffer.subarray(0, bytesRead);
      } finally {
        await handle.close();
      }
    },
  };
}

/**
 * The source to read for an attempt: the live remote copy while the attempt runs (or when
 * nothing was fetched back), else the file in the attempt folder.
 */
export async function attemptLogSource(files: AttemptLogFiles, ended: boolean): Promise<LogSource> {
  const local = fileLogSource(files.local);
  if (files.remote === undefined) return local;
  if (ended && (await local.size()) !== null) return local;
  return files.remote;
}

const TAIL_BLOCK = 64 * 1024;

/**
 * Offset where the last `lines` lines of the first `size` bytes start, found by reading
 * backwards block by block (a final newline ends the last line, it does not start a new one).
 */
export async function tailOffset(source: LogSource, size: number, lines: number): Promise<number> {
  let wanted = lines;
  let end = size;
  while (end > 0 && wanted > 0) {
    const start = Math.max(0, end - TAIL_BLOCK);
    const block = await source.read(start, end - start);
    for (let i = block.length - 1; i >= 0; i--) {
      if (block[i] !== 0x0a || start + i === size - 1) continue;
      wanted -= 1;
      if (wanted === 0) return start + i + 1;
    }
    end = start;
  }
  return wanted === 0 ? size : 0;
}

/** The last `lines` lines of a log as text, or null when it does not exist (explain shows a failed attempt's stderr). */
export async function readLogTail(source: LogSource, lines: number): Promise<string | null> {
  const size = await source.size();
  if (size === null) return null;
  const from = await tailOffset(source, size, lines);
  return (await source.read(from, size - from)).toString('utf8');
}
