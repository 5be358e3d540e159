import { lstatSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { MatterStackError, type ErrorCode } from '../events/errors.ts';

/** True when `target` is `root` itself or lies below it (both absolute, normalised). */
export function isInside(root: string, target: string): boolean {
  const rel = path.relative(root, target);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** Real path of the deepest existing ancestor of `target` joined with the rest (symlinks resolved). */
function realpathOfExistingPrefix(target: string): string {
  let current = target;
  const rest: string[] = [];
  for (;;) {
    try {
      return path.join(realpathSync(current), ...rest);
    } catch {
      const parent = path.dirname(current);
      if (parent === current) return target;
      rest.unshift(path.basename(current));
      current = parent;
    }
  }
}

/**
 * Joins `rel` (user input: a task file name, a download pattern base, a slug) onto `root` and
 * returns the absolute path, refusing absolute paths, `..` segments and symlinks that lead out of
 * `root` (SPEC §5). The target need not exist yet.
 */
export function resolveInside(root: string, rel: string, code: ErrorCode = 'VALIDATION_FAILED'): string {
  const refuse = (why: string): never => {
    throw new MatterStackError(code, `path "${rel}" ${why} (root ${root})`, { root, path: rel });
  };
  if (typeof rel !== 'string' || rel.length === 0) refuse('is empty');
  if (rel.includes('\0')) refuse('contains a NUL byte');
  if (path.isAbsolute(rel) || /^[A-Za-z]:[\\/]/.test(rel)) refuse('is absolute');
  const segments = rel.split(/[\\/]+/);
  if (segments.includes('..')) refuse('contains ".."');
  const absRoot = path.resolve(root);
  const target = path.resolve(absRoot, rel);
  if (!isInside(absRoot, target)) refuse('escapes its root');
  // Symlinks: compare real paths, so a link inside the root pointing elsewhere is refused.
  const realRoot = realpathOfExistingPrefix(absRoot);
  const realTarget = realpathOfExistingPrefix(target);
  if (!isInside(realRoot, realTarget)) refuse('leads out of its root through a symbolic link');
  return target;
}

/** True when `p` exists and is a symbolic link (not followed). */
export function isSymlink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}
