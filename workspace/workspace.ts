import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { MatterStackError } from '../events/errors.ts';
import { IdSchema, isValidId, WorkspaceSlugSchema } from '../events/ids.ts';
import { loadOperatorsConfig } from './operators-config.ts';
import { resolveInside } from './workspace-paths.ts';

/** Campaign file names, in lookup order (SPEC §1); `campaign.py` runs with python3 (README). */
export const CAMPAIGN_FILES = ['campaign.ts', 'campaign.js', 'campaign.mjs', 'campaign.py'] as const;
/** What a workspace needs to have a campaign, as error messages say it. */
export const CAMPAIGN_NEEDED = `${CAMPAIGN_FILES.join(' / ')} nor a campaign.command in operators.yaml`;

/** Where to look for the workspaces root. */
export interface WorkspacesRootOptions {
  /** `--root DIR`: wins over everything. */
  root?: string;
  /** Environment (default `process.env`): `MATTERSTACK_WORKSPACES_ROOT`. */
  env?: Record<string, string | undefined>;
  /** Start of the upward search (default `process.cwd()`). */
  cwd?: string;
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The workspaces root: `--root` > `MATTERSTACK_WORKSPACES_ROOT` > `<dir>/workspaces` for the
 * nearest `<dir>` at or above cwd that has one. Throws WORKSPACE_NOT_FOUND when none applies.
 */
export function findWorkspacesRoot(options: WorkspacesRootOptions = {}): string {
  const cwd = path.resolve(options.cwd ?? process.cwd());
  if (options.root !== undefined && options.root !== '') return path.resolve(cwd, options.root);
  const fromEnv = (options.env ?? process.env).MATTERSTACK_WORKSPACES_ROOT;
  if (fromEnv !== undefined && fromEnv !== '') return path.resolve(cwd, fromEnv);
  for (let dir = cwd; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'workspaces');
    if (isDirectory(candidate)) return candidate;
    if (path.dirname(dir) === dir) break;
  }
  throw new MatterStackError(
    'WORKSPACE_NOT_FOUND',
    `no workspaces root: pass --root DIR, set MATTERSTACK_WORKSPACES_ROOT, or run inside a directory that has a "workspaces" folder (searched upward from ${cwd})`,
    { cwd },
  );
}

/** The campaign module of a workspace folder, or null when it has none. */
export function findCampaignFile(workspaceDir: string): string | null {
  for (const name of CAMPAIGN_FILES) {
    const file = path.join(workspaceDir, name);
    try {
      if (statSync(file).isFile()) return file;
    } catch {
      // not this one
    }
  }
  return null;
}

/** The command operators.yaml's `campaign` section names, if any (INVALID_CONFIG when the file is invalid). */
export function configuredCampaignCommand(workspaceDir: string): [string, ...string[]] | undefined {
  return loadOperatorsConfig({ workspaceDir }).campaign?.command;
}

/** True when the folder has a campaign: a campaign file, or a command in a valid operators.yaml. */
function hasCampaign(dir: string): boolean {
  if (findCampaignFile(dir) !== null) return true;
  try {
    return configuredCampaignCommand(dir) !== undefined;
  } catch {
    return false;
  }
}

/** Validates a workspace slug (nested `a/b` allowed), throwing VALIDATION_FAILED naming it. */
export function parseWorkspaceSlug(slug: string): string {
  const result = WorkspaceSlugSchema.safeParse(slug);
  if (!result.success) {
    throw new MatterStackError('VALIDATION_FAILED', `invalid workspace slug "${slug}": ${result.error.issues[0]?.message ?? 'invalid'}`, {
      slug,
    });
  }
  return result.data;
}

/** The folder of workspace `slug` under `root` (slug validated), whether or not it exists. */
export function workspaceDirOf(root: string, slug: string): string {
  return resolveInside(root, parseWorkspaceSlug(slug));
}

/** The folder of workspace `slug` under `root`; WORKSPACE_NOT_FOUND unless it has a campaign (file or configured command). */
export function resolveWorkspaceDir(root: string, slug: string): string {
  const dir = workspaceDirOf(root, slug);
  // An invalid operators.yaml is named here (INVALID_CONFIG), not taken for a missing workspace.
  if (!isDirectory(dir) || (findCampaignFile(dir) === null && configuredCampaignCommand(dir) === undefined)) {
    throw new MatterStackError(
      'WORKSPACE_NOT_FOUND',
      `workspace "${slug}" not found: ${dir} has no ${CAMPAIGN_NEEDED}`,
      { slug, root, dir },
    );
  }
  return dir;
}

/** Folders never searched for workspaces. */
const SKIPPED_DIRS = new Set(['runs', 'node_modules']);
const MAX_DEPTH = 8;

/** Every workspace slug under `root` (nested ones included), sorted. A workspace does not contain others. */
export function listWorkspaces(root: string): string[] {
  const slugs: string[] = [];
  const visit = (dir: string, segments: string[]): void => {
    if (segments.length > 0 && hasCampaign(dir)) {
      slugs.push(segments.join('/'));
      return;
    }
    if (segments.length >= MAX_DEPTH) return;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      // A folder this process may not read holds no workspace it could use.
      return;
    }
    for (const entry of entries) {
      // Real directories only: a symlinked folder could lead out of the root or loop.
      if (!entry.isDirectory() || entry.name.startsWith('.') || SKIPPED_DIRS.has(entry.name)) continue;
      if (!IdSchema.safeParse(entry.name).success) continue;
      visit(path.join(dir, entry.name), [...segments, entry.name]);
    }
  };
  if (existsSync(root)) visit(path.resolve(root), []);
  return slugs.sort();
}

function checkId(kind: string, value: string): string {
  // The regex alone on the hot path (three ids per effect); zod only to word the error.
  if (isValidId(value)) return value;
  const result = IdSchema.safeParse(value);
  throw new MatterStackError('VALIDATION_FAILED', `invalid ${kind} "${value}": ${result.error?.issues[0]?.message ?? ''}`, { [kind]: value });
}

/** `<workspaceDir>/runs/<runId>` (id validated). */
export function runDirOf(workspaceDir: string, runId: string): string {
  return path.join(path.resolve(workspaceDir), 'runs', checkId('runId', runId));
}

/** `<workspaceDir>/runs/<runId>/attempts/<taskId>/<attemptId>` (ids validated). */
export function attemptDirOf(workspaceDir: string, runId: string, taskId: string, attemptId: string): string {
  return attemptDirIn(runDirOf(workspaceDir, runId), taskId, attemptId);
}

/**
 * `<runDir>/attempts/<taskId>/<attemptId>` for a `runDir` from `runDirOf` (ids validated). Joined
 * by hand: the ids are plain segments and `runDir` is normalised already, so `path.join` would
 * only re-scan the whole path — an effect runner resolves one per effect, 300k at 100k tasks.
 */
export function attemptDirIn(runDir: string, taskId: string, attemptId: string): string {
  return `${runDir}${path.sep}attempts${path.sep}${checkId('taskId', taskId)}${path.sep}${checkId('attemptId', attemptId)}`;
}
