import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cp, lstat, mkdir, realpath, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage, MatterStackError } from '../events/errors.ts';
import type { JsonObject } from '../events/json.ts';
import { isInside, resolveInside } from '../workspace/workspace-paths.ts';
import { readTextIfExistsSync, writeFileAtomic } from './atomic-file.ts';
import { bindAttemptFolder, MARKER_DIR, markerPath, readBinding } from './attempt-folder.ts';
import type { OperatorContext, PollResult } from './operator.ts';

/** Name of the manifest every operator writes (a marker); it is written last, so it marks a finished prepare. */
const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_SCHEMA_VERSION = 2;

function operatorError(ctx: OperatorContext, message: string, cause?: unknown): MatterStackError {
  return new MatterStackError(
    'OPERATOR_ERROR',
    `task ${ctx.task.id}, attempt ${ctx.attempt.attemptId}: ${message}`,
    { taskId: ctx.task.id, attemptId: ctx.attempt.attemptId },
    cause === undefined ? undefined : { cause },
  );
}

/** Copies `{source}` (relative to the workspace, never leaving it, links included) to `dest`. */
async function copySource(ctx: OperatorContext, source: string, dest: string): Promise<number> {
  const src = resolveInside(ctx.workspaceDir, source, 'OPERATOR_ERROR');
  const realWorkspace = await realpath(ctx.workspaceDir);
  let info;
  try {
    info = await stat(src);
  } catch (error) {
    throw operatorError(ctx, `file source "${source}" not found in the workspace`, error);
  }
  await cp(src, dest, {
    recursive: true,
    // A link inside a copied folder must not smuggle outside files in.
    filter: async (from) => {
      if ((await lstat(from)).isSymbolicLink() && !isInside(realWorkspace, await realpath(from))) {
        throw operatorError(ctx, `file source "${source}" contains a link leading out of the workspace: ${from}`);
      }
      return true;
    },
  });
  return info.isFile() ? info.size : 0;
}

/** True once `prepareAttemptDir` finished for the attempt folder `dir` (binding not checked: see `checkAttemptDir`). */
export async function isPrepared(dir: string): Promise<boolean> {
  // Whole JSON: a manifest written in place or without fsync may be empty or cut short after a crash (then prepared again).
  const text = readTextIfExistsSync(markerPath(dir, MANIFEST_FILE));
  if (text === null) return false;
  try {
    JSON.parse(text);
    return true;
    // Not whole: the prepare that wrote it died.
  } catch {
    return false;
  }
}

/** Creates folder `dir` (and its parents); true when it did not exist before, false when it did. */
function createdFolder(dir: string): boolean {
  // The parents first: a recursive mkdir makes no error object for those that exist (a task's folder, at a retry).
  mkdirSync(path.dirname(dir), { recursive: true });
  try {
    mkdirSync(dir);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/**
 * Refuses (OPERATOR_ERROR, naming the folder's owner) an attempt folder bound to another run,
 * task or attempt, or holding files no attempt was prepared with; true when it is
 * bound to this attempt, false when nothing was prepared there yet.
 */
async function checkAttemptDir(ctx: OperatorContext): Promise<boolean> {
  const binding = await readBinding(ctx);
  if (binding.kind === 'foreign') throw operatorError(ctx, binding.reason);
  return binding.kind === 'bound';
}

/**
 * The attempt folders an operator instance found bound to their attempt: each is checked once
 * per instance, i.e. when the attempt is adopted (first call after a start or a restart).
 */
export class AdoptedFolders {
  private readonly bound = new Set<string>();

  /** `bound`, `unused` (nothing prepared yet), or the FAILED result naming whose folder it is. */
  async status(ctx: OperatorContext): Promise<'bound' | 'unused' | PollResult> {
    if (this.bound.has(ctx.attempt.dir)) return 'bound';
    try {
      if (!(await checkAttemptDir(ctx))) return 'unused';
    } catch (error) {
      return { status: 'FAILED', reason: errorMessage(error) };
    }
    this.bound.add(ctx.attempt.dir);
    return 'bound';
  }

  /** Records a folder this instance bound to its attempt itself (nothing to check on adoption). */
  add(dir: string): void {
    this.bound.add(dir);
  }

  /** Forgets `dir` (its attempt has ended): a later call checks its binding again. */
  forget(dir: string): void {
    this.bound.delete(dir);
  }

  /** The folders known bound now. */
  kept(): readonly string[] {
    return [...this.bound];
  }

  /** Throws OPERATOR_ERROR for a folder of another attempt (before its files are taken as results). */
  async require(ctx: OperatorContext): Promise<void> {
    if (!this.bound.has(ctx.attempt.dir) && (await checkAttemptDir(ctx))) this.bound.add(ctx.attempt.dir);
  }
}

/**
 * Creates the attempt directory, stages the task's files (every destination inside the attempt
 * directory, every source inside the workspace), writes `extraFiles` (operator-specific) and
 * finally the manifest. The folder is bound to the attempt first (identity marker), and a folder
 * bound to another attempt is refused. A bound directory that has a manifest was prepared: nothing is redone.
 * `durable: false` writes the identity and the manifest in place, without fsync or a temporary
 * file (two file operations fewer per attempt): for work that a power loss ends anyway (a local
 * process). A crash mid-write leaves them empty or cut short, which readers take as not written
 * (the folder unused, the prepare not finished), so a restart prepares again; never another
 * attempt's results.
 * True when this call bound the folder (it was unused: no marker of an earlier launch can be there).
 */
export async function prepareAttemptDir(ctx: OperatorContext, extraFiles: Record<string, string> = {}, durable = true): Promise<boolean> {
  const dir = ctx.attempt.dir;
  if (!path.isAbsolute(dir)) throw operatorError(ctx, `attempt directory must be absolute: ${dir}`);
  // A folder this call creates holds nothing yet: no binding to read (the common case, one attempt after another).
  const bound = createdFolder(dir) ? false : await checkAttemptDir(ctx);
  if (bound && (await isPrepared(dir))) return false;
  mkdirSync(path.join(dir, MARKER_DIR), { recursive: true });
  if (!bound) await bindAttemptFolder(ctx, durable);

  const fileRefs: JsonObject[] = [];
  for (const [dest, spec] of Object.entries(ctx.task.files ?? {})) {
    let target: string;
    try {
      target = resolveInside(dir, dest, 'OPERATOR_ERROR');
    } catch (error) {
      throw operatorError(ctx, `file "${dest}" is refused: ${(error as Error).message}`, error);
    }
    const first = path.relative(dir, target).split(path.sep)[0];
    if (target === path.resolve(dir) || first === MARKER_DIR) {
      throw operatorError(ctx, `file "${dest}" is refused: it names the attempt directory or its ${MARKER_DIR} folder`);
    }
    await mkdir(path.dirname(target), { recursive: true });
    if (typeof spec === 'string') {
      await writeFile(target, spec);
      fileRefs.push({ path: dest, source: 'inline', bytes: Buffer.byteLength(spec), sha256: createHash('sha256').update(spec).digest('hex') });
    } else {
      const bytes = await copySource(ctx, spec.source, target);
      fileRefs.push({ path: dest, source: 'workspace', from: spec.source, bytes });
    }
  }
  for (const [name, content] of Object.entries(extraFiles)) await writeFileAtomic(path.join(dir, name), content);

  // File contents never go into the manifest: only references.
  const { files: _files, ...taskWithoutFiles } = ctx.task;
  const manifest = {
    schema_version: MANIFEST_SCHEMA_VERSION,
    run_id: ctx.runId,
    task_id: ctx.task.id,
    attempt_id: ctx.attempt.attemptId,
    operator_key: ctx.operatorKey,
    task: taskWithoutFiles,
    files: fileRefs,
    prepared_at: new Date().toISOString(),
  };
  const text = `${JSON.stringify(manifest, null, 2)}\n`;
  if (durable) await writeFileAtomic(markerPath(dir, MANIFEST_FILE), text);
  // In place: an empty manifest (the prepare died as it wrote it) is one not written (isPrepared), and the next prepare writes it whole.
  else writeFileSync(markerPath(dir, MANIFEST_FILE), text);
  return !bound;
}
