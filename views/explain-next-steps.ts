import { writerText } from '../events/host-version.ts';
import { describeDriver } from '../host/run-driver.ts';
import type { Explanation } from './explanation.ts';

/** What to do next, derived from the run status and the task reasons (deduplicated, in order). */
export function nextSteps(e: Explanation): string[] {
  const steps: string[] = [];
  const run = e.runId;
  if (e.history !== null) {
    // Every other step needs a host, which this version refuses to be.
    const writer = e.history.writtenBy === null ? 'the MatterStack version that wrote it' : `MatterStack ${e.history.writtenBy.version}`;
    return [
      `host the run with ${writer} (${writerText(e.history.readBy)} decides seq ${e.history.seq} differently and refuses to host it); see \`matterstack replay ${run} --verify\` and README "Upgrades and history"`,
    ];
  }
  if (e.status === 'PAUSED') steps.push(`resume with \`matterstack resume ${run}\``);
  if (e.status === 'FAILED') {
    for (const t of e.tasks) if (t.why.kind === 'failed' && !t.why.allowed) steps.push(`rerun the failed task with \`${t.why.rerunCommand}\` (add --recursive for its dependants)`);
    steps.push(`or revive the run with \`matterstack revive ${run}\` (reruns every failed task)`);
  }
  if (e.status === 'CANCELLED') steps.push(`revive the run with \`matterstack revive ${run}\``);
  for (const t of e.tasks) {
    if (t.why.kind !== 'waiting-operator') continue;
    const hint = t.why.hint;
    if (hint.kind === 'human' && hint.decided === null) {
      steps.push(`approve gate ${t.id} with \`${hint.approveCommand}\` (or \`${hint.rejectCommand}\`), or drop ${hint.files.join(' or ')} in ${hint.dir}`);
    } else if (hint.kind === 'experiment') {
      steps.push(`answer the request ${hint.requestFile} by writing ${hint.resultFile}`);
    }
  }
  const moving = e.tasks.some((t) => t.why.kind === 'ready' || t.why.kind === 'no-slot' || t.why.kind === 'waiting-operator' || t.why.kind === 'blocked');
  if ((e.status === 'RUNNING' || e.status === 'PENDING') && (moving || e.tasks.length === 0)) {
    if (e.driver === null) steps.push(`keep it going with \`matterstack loop ${run}\` (or one cycle: \`matterstack step ${run}\`)`);
    else if (e.driver.checked) steps.push(`nothing to start: ${describeDriver(e.driver)} drives it; follow it with \`matterstack status ${run}\``);
    else steps.push(`${describeDriver(e.driver)} drives it (not checkable from this host); if that process is gone, keep it going with \`matterstack loop ${run}\``);
  }
  if (e.tasks.some((t) => t.why.kind === 'no-slot')) steps.push('tasks wait for a free slot: raise max_concurrent in operators.yaml (for new runs) or let running attempts finish');
  for (const t of e.tasks) if (t.why.kind === 'no-operator') steps.push(`configure operator "${t.why.operatorKey}" in operators.yaml or set the task's operatorKey`);
  if (e.status === 'COMPLETED') steps.push(`export the evidence with \`matterstack export-evidence ${run}\``);
  return [...new Set(steps)];
}
