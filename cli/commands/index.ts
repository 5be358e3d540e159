import type { CommandSpec } from '../command.ts';
import { attemptsCommand } from './attempts.ts';
import { checkCommand } from './check.ts';
import { cancelAttemptCommand } from './cancel-attempt.ts';
import { approveCommand, rejectCommand } from './gate-decisions.ts';
import { explainCommand } from './explain.ts';
import { exportEvidenceCommand } from './export-evidence.ts';
import { initCommand } from './init.ts';
import { listCommand } from './list.ts';
import { logsCommand } from './logs.ts';
import { loopCommand } from './loop.ts';
import { projectionsCommand } from './projections.ts';
import { replayCommand } from './replay.ts';
import { rerunCommand } from './rerun.ts';
import { cancelCommand, pauseCommand, resumeCommand, reviveCommand } from './run-commands.ts';
import { selfTestCommand } from './self-test.ts';
import { statusCommand } from './status.ts';
import { stepCommand } from './step.ts';
import { uiCommand } from './ui.ts';
import { workerCommand } from './worker.ts';

/** Every command, in the order `--help` lists them (within their group). Add a command: one import, one entry. */
export const COMMANDS: readonly CommandSpec[] = [
  initCommand,
  stepCommand,
  loopCommand,
  workerCommand,
  checkCommand,
  statusCommand,
  listCommand,
  attemptsCommand,
  logsCommand,
  pauseCommand,
  resumeCommand,
  cancelCommand,
  reviveCommand,
  rerunCommand,
  cancelAttemptCommand,
  approveCommand,
  rejectCommand,
  explainCommand,
  exportEvidenceCommand,
  replayCommand,
  uiCommand,
  projectionsCommand,
  selfTestCommand,
];
