// The views the CLI wires into `explain`, `export-evidence` and `replay`: data functions plus pure text formatters.
export { explainRun, type ExplainTarget } from './explain-run.ts';
export type { Explanation, FullCap, OperatorHint, TaskExplanation, TaskReason } from './explanation.ts';
export { formatExplanation, hintLines, reasonText } from './format-explanation.ts';
export { buildEvidence, EVIDENCE_FORMAT_VERSION, type EvidenceBundle, type EvidenceTarget, type LogSummary } from './build-evidence.ts';
export { renderEvidenceReport } from './evidence-report.ts';
export { exportEvidence, type EvidenceExport } from './export-evidence.ts';
export {
  replayTimeline,
  stateAt,
  verifyReplay,
  type StateAt,
  type TimelineEntry,
  type TimelineFilter,
  type TransitionFacts,
  type VerifyResult,
} from './replay-run.ts';
export { formatStateAt, formatTimeline, formatVerifyResult } from './format-replay.ts';
export type { AttemptSummary, RunSummary, SystemSummary, TaskSummary } from './run-summary.ts';
