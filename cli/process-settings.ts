import v8 from 'node:v8';

/**
 * V8 settings of an orchestrator process (every `matterstack` command: loop, worker, step …).
 * - Heap growth capped at 2×: V8 lets the heap grow to up to 4× its live set between full
 *   collections; a 100k-task run holds ~160 MB live, yet peaked at 0.8–1.1 GB RSS depending on
 *   when the full collections fell. Capped, the peak stayed at ~620 MB for ~3% more time.
 * - Optimising compiler (TurboFan) entered about three times later than V8's default (its
 *   interrupt budget is 132 KB of bytecode executed): an orchestrator's hot code is large, so each
 *   early optimisation took 10–35 ms of compiler time on a 2-core machine, most of it for code
 *   whose feedback was not yet stable. A fresh process's fanout-1000 took 0.25 s with 0.41 s of
 *   CPU; with this budget 0.17 s with 0.18 s of CPU, and fanout-10000 got faster too (2.10 → 1.95 s).
 *   600 KB and 1 MB measured about the same as 400 KB; 250 KB already gave back a third of the
 *   gain (bench/workloads.ts).
 * Process-wide, so only the CLI applies them: an application embedding the library keeps its own.
 */
export const ORCHESTRATOR_V8_FLAGS: readonly string[] = ['--heap-growing-percent=100', '--interrupt-budget=409600'];

/**
 * Node flags an orchestrator process must be started with: V8 sizes the young generation when it
 * sets up the heap, so `setFlagsFromString` cannot change it later. bin/matterstack.js's shebang
 * passes them (`node bin/matterstack.js` runs without them, correctly, a little slower).
 * A young generation of at most 4 MB semi-spaces instead of 16: a fresh process grew it to 16 MB
 * within its first run, committing (and faulting in) fresh pages all along, and its scavenges
 * touched more memory than the caches hold. fanout-1000 0.16 → 0.14 s, chain-200 0.15 → 0.13 s,
 * fanout-10000 1.52 → 1.42 s, with less peak memory; 2 MB and 8 MB were slower (bench/workloads.ts).
 */
export const ORCHESTRATOR_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];

/** Applies ORCHESTRATOR_V8_FLAGS to this process (call once, at start). */
export function applyOrchestratorV8Flags(): void {
  for (const flag of ORCHESTRATOR_V8_FLAGS) v8.setFlagsFromString(flag);
}
