import v8 from 'node:v8';

/**
 * V8 settings of an orchestrator process (every `matterstack` command: loop, worker, step …).
 * V8 lets the heap grow to up to 4× its live set between full collections: a 100k-task run holds
 * ~160 MB live, yet peaked at 0.8–1.1 GB RSS depending on when the full collections fell. Growth
 * capped at 2× kept the peak at ~620 MB for ~3% more time (bench/workloads.ts fanout-100000).
 * Process-wide, so only the CLI applies it: an application embedding the library keeps its own.
 */
export const ORCHESTRATOR_V8_FLAGS: readonly string[] = ['--heap-growing-percent=100'];

/** Applies ORCHESTRATOR_V8_FLAGS to this process (call once, at start). */
export function applyOrchestratorV8Flags(): void {
  for (const flag of ORCHESTRATOR_V8_FLAGS) v8.setFlagsFromString(flag);
}
