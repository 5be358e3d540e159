import { ZodError } from 'zod';
import { escapeControl } from '../actors/views/escape-text.ts';
import { errorMessage, isMatterStackError } from '../events/errors.ts';
import { redactPasswords } from '../events/redact-url.ts';
import { EXIT_CODES, exitCodeOf } from './exit-codes.ts';
import { UsageError } from './usage-error.ts';

/** A failure as the CLI reports it: a stable code, one line of message, and the exit code. */
export interface CliFailure {
  code: string;
  message: string;
  exitCode: number;
}

// Every printed error goes through here: a NATS URL in it never shows its password, and a control
// character from user input is shown escaped (it could rewrite the terminal).
function oneLine(text: string): string {
  return redactPasswords(escapeControl(text.replace(/\s*\n\s*/g, ' ').trim()));
}

/** Classifies anything thrown by a command into code, one-line message and exit code. */
export function toCliFailure(error: unknown): CliFailure {
  if (error instanceof UsageError) {
    const hint = error.command ? ` (see "matterstack ${error.command} --help")` : '';
    const message = oneLine(error.message);
    return { code: 'USAGE', message: message.includes('--help') ? message : `${message}${hint}`, exitCode: EXIT_CODES.USAGE };
  }
  if (isMatterStackError(error)) return { code: error.code, message: oneLine(error.message), exitCode: exitCodeOf(error.code) };
  if (error instanceof ZodError) {
    const issue = error.issues[0];
    const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    return { code: 'VALIDATION_FAILED', message: oneLine(`${where}${issue?.message ?? 'invalid input'}`), exitCode: EXIT_CODES.VALIDATION_FAILED };
  }
  return { code: 'INTERNAL', message: oneLine(errorMessage(error)), exitCode: EXIT_CODES.INTERNAL };
}
