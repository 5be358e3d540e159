import { expect } from 'vitest';
import type { RunHandle } from '../../host/run-lifecycle.ts';
import { verifyReplay } from '../../views/replay-run.ts';

/** Replay determinism after an end-to-end test: the current machines reproduce every logged state. */
export async function verifyAndClose(run: RunHandle): Promise<void> {
  try {
    const result = await verifyReplay(run.store.log, run.runId);
    expect(result, result.ok ? '' : result.message).toMatchObject({ ok: true });
  } finally {
    await run.close();
  }
}
