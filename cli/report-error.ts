import { ZodError } from 'zod';
import { escapeControl } from '../views/escape-text.ts';
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
const MAX_LINE = 2000;

function oneLine(text: string): string {
  const line = redactPasswords(escapeControl(text.replace(/\s*\n\s*/g, ' ').trim()));
  // A pasted argument can be megabytes: the line stays readable, and says what it left out.
  return line.length <= MAX_LINE ? line : `${line.slice(0, MAX_LINE)}… (${line.length - MAX_LINE} more characters)`;
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
