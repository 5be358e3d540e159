import { mkdirSync, mkdtempSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { attemptDirOf, findWorkspacesRoot, listWorkspaces, resolveWorkspaceDir, runDirOf } from '../workspace/workspace.ts';
import { resolveInside } from '../workspace/workspace-paths.ts';

const temp = (): string => realpathSync(mkdtempSync(path.join(tmpdir(), 'ms-ws-')));
const addWorkspace = (root: string, slug: string, file = 'campaign.ts'): void => {
  mkdirSync(path.join(root, slug), { recursive: true });
  writeFileSync(path.join(root, slug, file), 'export {};');
};

describe('workspaces root', () => {
  it('prefers --root, then the env var, then the nearest workspaces folder upward', () => {
    const base = temp();
    mkdirSync(path.join(base, 'workspaces'));
    mkdirSync(path.join(base, 'a', 'b'), { recursive: true });
    const cwd = path.join(base, 'a', 'b');
    expect(findWorkspacesRoot({ root: 'custom', cwd, env: { MATTERSTACK_WORKSPACES_ROOT: '/env' } })).toBe(path.join(cwd, 'custom'));
    expect(findWorkspacesRoot({ cwd, env: { MATTERSTACK_WORKSPACES_ROOT: '/env/ws' } })).toBe('/env/ws');
    expect(findWorkspacesRoot({ cwd, env: {} })).toBe(path.join(base, 'workspaces'));
    mkdirSync(path.join(base, 'a', 'workspaces'));
    expect(findWorkspacesRoot({ cwd, env: {} })).toBe(path.join(base, 'a', 'workspaces'));
  });

  it('throws WORKSPACE_NOT_FOUND when nothing applies', () => {
    expect(() => findWorkspacesRoot({ cwd: '/', env: {} })).toThrow(expect.objectContaining({ code: 'WORKSPACE_NOT_FOUND' }));
  });
});

describe('workspaces', () => {
  it('resolves nested slugs and lists workspaces recursively', () => {
    const root = temp();
    addWorkspace(root, 'alpha');
    addWorkspace(root, 'demos/battery_screening', 'campaign.mjs');
    addWorkspace(root, 'demos/deeper/thin_film', 'campaign.js');
    mkdirSync(path.join(root, 'demos', 'not_a_workspace'));
    addWorkspace(root, 'alpha/runs/r1'); // a run folder is never a workspace
    expect(listWorkspaces(root)).toEqual(['alpha', 'demos/battery_screening', 'demos/deeper/thin_film']);
    expect(resolveWorkspaceDir(root, 'demos/battery_screening')).toBe(path.join(root, 'demos', 'battery_screening'));
    expect(() => resolveWorkspaceDir(root, 'demos/not_a_workspace')).toThrow(expect.objectContaining({ code: 'WORKSPACE_NOT_FOUND' }));
    for (const bad of ['../x', '/abs', 'a//b', 'a/../b', 'a b', '']) {
      expect(() => resolveWorkspaceDir(root, bad)).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
    }
    expect(listWorkspaces(path.join(root, 'missing'))).toEqual([]);
  });

  it('builds run and attempt directories from validated ids', () => {
    expect(runDirOf('/w/ws', 'r1')).toBe('/w/ws/runs/r1');
    expect(attemptDirOf('/w/ws', 'r1', 'task', 'task-a1')).toBe('/w/ws/runs/r1/attempts/task/task-a1');
    expect(() => attemptDirOf('/w/ws', 'r1', '../x', 'a')).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
  });
});

describe('resolveInside', () => {
  it('joins safe relative paths and refuses escapes', () => {
    const root = temp();
    expect(resolveInside(root, 'a/b.txt')).toBe(path.join(root, 'a', 'b.txt'));
    expect(resolveInside(root, './a/./b.txt')).toBe(path.join(root, 'a', 'b.txt'));
    for (const bad of ['../x', 'a/../../x', '/etc/passwd', '', 'a\0b', 'a/../b']) {
      expect(() => resolveInside(root, bad)).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
    }
  });

  it('refuses symlinks leading out of the root, allows those staying inside', () => {
    const root = temp();
    const outside = temp();
    symlinkSync(outside, path.join(root, 'out'));
    mkdirSync(path.join(root, 'in'));
    symlinkSync(path.join(root, 'in'), path.join(root, 'inlink'));
    expect(() => resolveInside(root, 'out/file.txt')).toThrow(/symbolic link/);
    expect(() => resolveInside(root, 'out')).toThrow(/symbolic link/);
    expect(resolveInside(root, 'inlink/new/file.txt')).toBe(path.join(root, 'inlink', 'new', 'file.txt'));
    expect(() => resolveInside(root, 'x', 'OPERATOR_ERROR')).not.toThrow();
  });
});
