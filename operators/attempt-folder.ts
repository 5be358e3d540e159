import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { readTextIfExistsSync, writeFileAtomic } from './atomic-file.ts';
import type { OperatorContext } from './operator.ts';

/**
 * MatterStack's own files of an attempt (manifest, start and exit markers, job ids...) live in
 * this hidden sub-folder of the attempt folder, never beside the task's files: a task that
 * writes `exit_code` or `started.json` in its working directory cannot be taken for its own
 * bookkeeping, and nothing in here is ever reported as a result.
 */
export const MARKER_DIR = '.matterstack';

/**
 * Identity file binding the attempt folder to the run, task and attempt it was prepared for. The
 * workspace is recorded for people, not compared: a moved workspace, or one another worker mounts
 * elsewhere, still holds the same run.
 */
const IDENTITY_FILE = 'attempt.json';

/** The identity file's path relative to the attempt folder (posix: also a remote job directory's). */
export const IDENTITY_PATH = `${MARKER_DIR}/${IDENTITY_FILE}`;

/** Path of the marker `name` of the attempt folder `dir`. */
export function markerPath(dir: string, name: string): string {
  return path.join(dir, MARKER_DIR, name);
}

const IdentitySchema = z.object({ runId: z.string(), taskId: z.string(), attemptId: z.string(), workspace: z.string() });
type Identity = z.infer<typeof IdentitySchema>;

function identityOf(ctx: OperatorContext): Identity {
  return { runId: ctx.runId, taskId: ctx.attempt.taskId, attemptId: ctx.attempt.attemptId, workspace: path.resolve(ctx.workspaceDir) };
}

/** `bound`: the folder was prepared for this attempt; `unused`: nothing there yet; `foreign`: why its files are not this attempt's. */
export type Binding = { kind: 'bound' } | { kind: 'unused' } | { kind: 'foreign'; reason: string };

/**
 * True when `dir` is missing, empty, or holds only a marker folder with temporary files and at most
 * an identity file that is not whole (a prepare that died at once, or one writing it right now: the
 * identity is written before any other file).
 */
function isUnused(dir: string): boolean {
  const names = (at: string): string[] => {
    try {
      return readdirSync(at);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  };
  const top = names(dir);
  if (top.some((name) => name !== MARKER_DIR)) return false;
  const markers = names(path.join(dir, MARKER_DIR));
  if (!markers.every((name) => name.endsWith('.tmp') || name === IDENTITY_FILE)) return false;
  // Read after the listing: whole by now, it binds the folder.
  return !markers.includes(IDENTITY_FILE) || readIdentity(dir) === null;
}

/** The identity file's JSON, or null when it is missing or not JSON (an empty file: a write in progress). */
function readIdentity(dir: string): unknown {
  const text = readTextIfExistsSync(markerPath(dir, IDENTITY_FILE));
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

/**
 * Whose attempt folder `ctx.attempt.dir` is: read on adoption (a restart, a re-issued effect)
 * before any marker or result in it is believed.
 */
export async function readBinding(ctx: OperatorContext): Promise<Binding> {
  const dir = ctx.attempt.dir;
  // Synchronous reads: a few small local files, far cheaper than their promises (one adoption per attempt and instance).
  let raw = readIdentity(dir);
  if (raw === null) {
    if (isUnused(dir)) return { kind: 'unused' };
    // A concurrent prepare (a second host on the run) writes the identity before any other file: read it again.
    raw = readIdentity(dir);
  }
  if (raw === null) {
    return { kind: 'foreign', reason: `attempt folder ${dir} holds files that no MatterStack attempt was prepared with (${IDENTITY_PATH} is missing): refusing to take them for this attempt's` };
  }
  const mismatch = identityMismatch(ctx, dir, raw, false);
  return mismatch === null ? { kind: 'bound' } : { kind: 'foreign', reason: mismatch };
}

/**
 * Why the identity `raw` found in folder `where` is not `ctx`'s attempt, or null when it is.
 * `sameWorkspace`: the workspace must match too (a job directory on a cluster, which every
 * workspace with that run id would share).
 */
export function identityMismatch(ctx: OperatorContext, where: string, raw: unknown, sameWorkspace: boolean): string | null {
  const found = IdentitySchema.safeParse(raw);
  if (!found.success) return `attempt folder ${where}: ${IDENTITY_PATH} is not a valid identity: refusing to take its files for this attempt's`;
  const want = identityOf(ctx);
  const keys = sameWorkspace ? (['runId', 'taskId', 'attemptId', 'workspace'] as const) : (['runId', 'taskId', 'attemptId'] as const);
  const differs = keys.filter((key) => found.data[key] !== want[key]);
  if (differs.length === 0) return null;
  const described = differs.map((key) => `${key} ${found.data[key]} (expected ${want[key]})`).join(', ');
  // The workspace it was prepared in tells where the folder came from.
  const origin = sameWorkspace ? '' : `, prepared in workspace ${found.data.workspace}`;
  return `attempt folder ${where} belongs to another attempt: ${described}${origin}; refusing to take its markers or results`;
}

/**
 * Writes the identity file: the first thing a prepare does, so every marker written later is bound.
 * `durable: false` writes it in place without fsync, in a folder the caller has just found unused
 * (see `prepareAttemptDir`): a reader takes it, until it is whole, for a prepare that died or is
 * still writing it (`isUnused`), and whoever binds the folder then writes the same identity.
 */
export async function bindAttemptFolder(ctx: OperatorContext, durable = true): Promise<void> {
  const file = markerPath(ctx.attempt.dir, IDENTITY_FILE);
  const content = `${JSON.stringify(identityOf(ctx))}\n`;
  if (durable) await writeFileAtomic(file, content);
  else writeFileSync(file, content);
}
