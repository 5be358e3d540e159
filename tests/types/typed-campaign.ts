// Compiled by tests/public-api.test.ts (and by `tsc --noEmit`): a typed campaign needs no casts,
// and a campaign whose analyze returns the wrong state type does not compile.
import { initializeRun, runUntilCompletion, type Campaign } from '../../index.ts';

interface ScreenState {
  best: number;
  tried: string[];
}
interface Score {
  score: number;
}

export const typed: Campaign<ScreenState, Score> = {
  plan(state) {
    const n = state === null ? 0 : state.tried.length;
    return n < 2 ? { tasks: [{ id: `screen_${n}`, command: 'true' }] } : null;
  },
  analyze(state, results) {
    const scores = Object.values(results).map((r) => r.data?.score ?? 0);
    return { best: Math.max(state?.best ?? 0, ...scores), tried: [...(state?.tried ?? []), ...Object.keys(results)] };
  },
};

export const wrong: Campaign<ScreenState, Score> = {
  plan: () => null,
  // @ts-expect-error best must be a number
  analyze: () => ({ best: 'high', tried: [] }),
};

/** The library API takes a typed campaign as it is. */
export async function drive(): Promise<void> {
  const run = await initializeRun({ workspace: 'typed', campaign: typed });
  await runUntilCompletion(run, { campaign: typed });
  await run.close();
}
