/**
 * The self-test campaign: a 3-task DAG of real shell commands (generate → square → report, report
 * also depending on generate), one iteration. Its analyze keeps the tasks' data so the state is checked.
 */
export const SELF_TEST_CAMPAIGN = `
export function plan(state) {
  if (state !== null) return null;
  return { tasks: [
    { id: 'generate', command: 'echo 7 > n.txt && echo \\'{"n": 7}\\' > results.json' },
    { id: 'square', command: 'echo \\'{"square": 49}\\' > results.json', dependencies: ['generate'] },
    { id: 'report', command: ['node', '-e', 'require("fs").writeFileSync("results.json", JSON.stringify({ ok: true }))'], dependencies: ['generate', 'square'] },
  ] };
}
export function analyze(state, results) {
  return Object.fromEntries(Object.entries(results).map(([id, r]) => [id, { status: r.status, data: r.data ?? null }]));
}
`;

/** The campaign state the self-test expects after its only iteration. */
export const SELF_TEST_EXPECTED_STATE = {
  generate: { status: 'COMPLETED', data: { n: 7 } },
  square: { status: 'COMPLETED', data: { square: 49 } },
  report: { status: 'COMPLETED', data: { ok: true } },
};
