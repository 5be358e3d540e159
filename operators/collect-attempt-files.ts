import { readdirSync } from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import { errorMessage, isMatterStackError } from '../events/errors.ts';
import { MARKER_DIR } from './attempt-folder.ts';
import type { CollectedResults, OperatorContext } from './operator.ts';
import { DEFAULT_MAX_RESULTS_BYTES, readResultsFile } from './read-results-file.ts';

/** What to collect from an attempt directory. */
export interface CollectOptions {
  /** Globs on the path relative to the attempt directory; default: everything. */
  include?: readonly string[];
  exclude?: readonly string[];
  /** Operator bookkeeping files (relative paths) never reported as results. */
  bookkeeping?: readonly string[];
}

/** How download patterns are matched: dot files too. */
const GLOB_OPTIONS = { dot: true };

/** Why `pattern` cannot be used as a download pattern (picomatch cannot compile it), or undefined when it can. */
export function globError(pattern: string): string | undefined {
  try {
    // picomatch builds its regular expression at the first match, not when the matcher is made.
    picomatch(pattern, GLOB_OPTIONS)('probe');
    return undefined;
  } catch (error) {
    return errorMessage(error).split('\n')[0]!.slice(0, 200);
  }
}

/**
 * Regular files under `dir` matching the patterns, keyed by their posix path relative to `dir`
 * (never by basename). Links are skipped: a result must not point outside the attempt. The marker
 * folder (`.matterstack/`) is never visited.
 */
export async function collectAttemptFiles(dir: string, options: CollectOptions = {}): Promise<Record<string, string>> {
  const included = options.include && options.include.length > 0 ? picomatch([...options.include], GLOB_OPTIONS) : () => true;
  const excluded = options.exclude && options.exclude.length > 0 ? picomatch([...options.exclude], GLOB_OPTIONS) : () => false;
  const bookkeeping = new Set(options.bookkeeping ?? []);
  const files: Record<string, string> = {};
  // Synchronous: an attempt folder holds a few entries, and listing them costs less than a promise (one collect per attempt).
  const visit = (abs: string, rel: string): void => {
    let entries;
    try {
      entries = readdirSync(abs, { withFileTypes: true });
    } catch {
      // Gone or unreadable (a task may remove its scratch folders while it ends): nothing in it to collect.
      return;
    }
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of entries) {
      const childRel = rel === '' ? entry.name : `${rel}/${entry.name}`;
      const childAbs = path.join(abs, entry.name);
      if (entry.isDirectory()) {
        // MatterStack's markers are never results.
        if (childRel !== MARKER_DIR) visit(childAbs, childRel);
      } else if (entry.isFile()) {
        // Temporary files of atomic writes are never results.
        if (bookkeeping.has(childRel) || /^\..*\.tmp$/.test(entry.name)) continue;
        if (included(childRel) && !excluded(childRel)) files[childRel] = childAbs;
      }
    }
  };
  visit(path.resolve(dir), '');
  return files;
}

/**
 * Produced files (the task's downloadPatterns, bookkeeping excluded) and `results.json` as data;
 * a results.json that cannot be taken (see readResultsFile) → `reason`, and the attempt fails.
 */
export async function collectTaskResults(ctx: OperatorContext, bookkeeping: readonly string[]): Promise<CollectedResults> {
  const patterns = ctx.task.downloadPatterns;
  const files = await collectAttemptFiles(ctx.attempt.dir, { include: patterns?.include, exclude: patterns?.exclude, bookkeeping });
  try {
    const data = await readResultsFile(ctx.attempt.dir, 'results.json', ctx.config.maxResultsBytes ?? DEFAULT_MAX_RESULTS_BYTES);
    return data === undefined ? { files } : { files, data };
  } catch (error) {
    if (isMatterStackError(error, 'RESULTS_INVALID')) return { files, reason: error.message };
    throw error;
  }
}
