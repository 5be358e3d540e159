/** Bad command line (unknown command or option, missing argument): exit code 2, nothing touched. */
export class UsageError extends Error {
  /** The command whose usage applies (for the hint), if known. */
  readonly command: string | undefined;

  constructor(message: string, command?: string) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
  }
}
