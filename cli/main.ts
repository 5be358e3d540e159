import { configureLogging } from '../events/logger.ts';
import { COMMANDS } from './commands/index.ts';
import type { CommandContext } from './command.ts';
import { EXIT_CODES } from './exit-codes.ts';
import { commandHelp, globalHelp } from './help.ts';
import { Output } from './output.ts';
import { parseCommandLine } from './parse-command-line.ts';
import { toCliFailure } from './report-error.ts';
import { packageVersion } from '../host/writer-stamp.ts';

/**
 * Runs the `matterstack` command line and resolves with the exit code (bin/matterstack.js sets
 * it). Never throws: every failure becomes one `error:` line (or `{"error":…}` with --json).
 */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  // `matterstack list | head` closes the pipe early: that is not an error worth a stack trace.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(EXIT_CODES.OK);
  });
  let json = argv.includes('--json');
  const interrupt = new AbortController();
  const onSigint = (): void => {
    if (interrupt.signal.aborted) process.exit(EXIT_CODES.INTERRUPTED); // second Ctrl-C: give up waiting
    process.stderr.write('\nstopping (the run stays resumable; Ctrl-C again to force)…\n');
    interrupt.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    const parsed = parseCommandLine(argv, COMMANDS, env);
    json = parsed.json;
    const out = new Output(json);
    switch (parsed.kind) {
      case 'version':
        if (json) out.data({ version: packageVersion() });
        else out.line(packageVersion());
        return EXIT_CODES.OK;
      case 'global-help':
        out.write(`${globalHelp(COMMANDS, packageVersion())}\n`);
        return EXIT_CODES.OK;
      case 'missing-command':
        process.stderr.write(`${globalHelp(COMMANDS, packageVersion())}\n\n`);
        out.note('error: missing command (see the list above)');
        return EXIT_CODES.USAGE;
      case 'command-help':
        out.write(`${commandHelp(parsed.command)}\n`);
        return EXIT_CODES.OK;
      case 'command': {
        // Quiet by default: a command's output is its answer; diagnostics are asked for with --log-level.
        configureLogging({ level: parsed.global.logLevel ?? 'warn' });
        const ctx: CommandContext = { args: parsed.args, options: parsed.options, global: parsed.global, out, env, signal: interrupt.signal };
        return await parsed.command.run(ctx);
      }
    }
  } catch (error) {
    const failure = toCliFailure(error);
    if (json) new Output(true).data({ error: { code: failure.code, message: failure.message } });
    else new Output(false).note(`error: ${failure.message}`);
    if (env.MATTERSTACK_DEBUG && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    return failure.exitCode;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
