import { statSync } from 'node:fs';
import { isMatterStackError, MatterStackError } from '../events/errors.ts';
import { findWorkspacesRoot } from '../workspace/workspace.ts';
import type { RunStore } from '../host/run-store.ts';
import type { RunHandle } from '../host/run-lifecycle.ts';
import type { CommandContext } from './command.ts';
import { natsTarget } from './nats-target.ts';
import { parseId } from './parse-id.ts';

/** The workspaces root of this invocation; WORKSPACE_NOT_FOUND when it is not an existing folder. */
export function resolveRoot(ctx: CommandContext): string {
  const root = findWorkspacesRoot({ ...(ctx.global.root !== undefined ? { root: ctx.global.root } : {}), env: ctx.env });
  let isDir = false;
  try {
    isDir = statSync(root).isDirectory();
  } catch {
    // reported below
  }
  // RunStore.open would create it: a typo in --root must not leave a stray folder behind.
  if (!isDir) throw new MatterStackError('WORKSPACE_NOT_FOUND', `workspaces root ${root} does not exist`, { root });
  return root;
}

/**
 * Opens the store (embedded log, or JetStream with --nats) of this invocation's root. Every
 * command but `init` and `worker` acts on runs that exist: a root without a log is an error
 * (RUN_NOT_FOUND for a command on run `runId`, which cannot be there), and nothing is created.
 */
export async function openStore(ctx: CommandContext, runId?: string): Promise<RunStore> {
  const root = resolveRoot(ctx);
  // Loaded on demand: the log and NATS clients cost half a second, which --help should not pay.
  const { RunStore } = await import('../host/run-store.ts');
  const nats = natsTarget(ctx);
  if (nats === undefined) {
    try {
      return await RunStore.open({ root, mustExist: true });
    } catch (error) {
      if (runId !== undefined && isMatterStackError(error, 'WORKSPACE_NOT_FOUND') && error.details.noState === true) {
        throw new MatterStackError('RUN_NOT_FOUND', `run ${runId} not found`, { runId });
      }
      throw error;
    }
  }
  // Reads go straight to the JetStream log (the projections are folded locally), as the NATS user.
  const { explainPermission } = await import('./nats-session.ts');
  return RunStore.open({
    root,
    natsUrl: nats.servers.join(','),
    ...(nats.user !== undefined ? { natsUser: nats.user } : {}),
    ...(nats.pass !== undefined ? { natsPass: nats.pass } : {}),
  }).catch((error: unknown) => explainPermission(error, nats, 'read the runs\' event log'));
}

/** Runs `body` with the store open (for run `runId`, if given), closing it afterwards whatever happens. */
export async function withStore<T>(ctx: CommandContext, body: (store: RunStore) => Promise<T>, runId?: string): Promise<T> {
  const store = await openStore(ctx, runId);
  try {
    return await body(store);
  } finally {
    await store.close();
  }
}

/** Runs `body` with run `runId` open (validated id; RUN_NOT_FOUND when the log has none). */
export async function withRun<T>(ctx: CommandContext, runId: string, body: (handle: RunHandle, store: RunStore) => Promise<T>): Promise<T> {
  const id = parseId('run id', runId);
  const { openRun } = await import('../host/run-lifecycle.ts');
  return withStore(ctx, async (store) => {
    const handle = await openRun({ store, runId: id });
    try {
      return await body(handle, store);
    } finally {
      await handle.close();
    }
  }, id);
}
