import type { LogLevel } from '../events/logger.ts';
import type { Output } from './output.ts';
import { UsageError } from './usage-error.ts';

/** One option of a command, as `--help` shows it and node:util parseArgs reads it. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Shown after the option in help (`--comment TEXT`). */
  valueName?: string;
  description: string;
}

/** One positional argument (`<run>`); optional ones are shown as `[<run>]`. */
export interface ArgSpec {
  name: string;
  required: boolean;
  description: string;
}

/** Global options every command accepts (resolved before the command runs). */
export interface GlobalOptions {
  /** `--root DIR` (else MATTERSTACK_WORKSPACES_ROOT, else `workspaces/` above cwd). */
  root: string | undefined;
  /** `--nats URL` / MATTERSTACK_NATS_URL: JetStream instead of the embedded log. */
  natsUrl: string | undefined;
  /** `--user NAME` / MATTERSTACK_NATS_USER: who connects to NATS (user:pass in the URL wins). */
  natsUser: string | undefined;
  json: boolean;
  /** `--log-level` / MATTERSTACK_LOG_LEVEL, validated; undefined = the command's default. */
  logLevel: LogLevel | undefined;
}

/** What a command's `run` receives: its parsed arguments, the global options and the output. */
export interface CommandContext {
  /** Positional arguments by name (absent optional ones are undefined). */
  args: Readonly<Record<string, string | undefined>>;
  /** Command options by long name. */
  options: Readonly<Record<string, string | boolean | undefined>>;
  global: GlobalOptions;
  out: Output;
  env: NodeJS.ProcessEnv;
  /** Aborted on Ctrl-C (SIGINT): long commands stop cleanly. */
  signal: AbortSignal;
}

/**
 * A CLI command: one file under `cli/commands/` exporting one of these, plus one line in
 * `cli/commands/index.ts`. `run` returns the exit code and throws MatterStackError / UsageError
 * for failures (main turns them into one `error:` line and the mapped exit code).
 */
export interface CommandSpec {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** What it does, shown by `--help` (a few lines). */
  description: string;
  args: readonly ArgSpec[];
  options: Readonly<Record<string, OptionSpec>>;
  /** Example command lines (without the leading `matterstack `). */
  examples: readonly string[];
  /** Extra help paragraphs (exit codes, notes). */
  notes?: readonly string[];
  /** Group in the command list. */
  group: 'runs' | 'commands' | 'views' | 'maintenance';
  run(ctx: CommandContext): Promise<number>;
}

/** Identity helper so command files get the type checked and inferred. */
export function defineCommand(spec: CommandSpec): CommandSpec {
  return spec;
}

/** The `--by` option every command-sending command takes. */
export const BY_OPTION: OptionSpec = { type: 'string', valueName: 'NAME', description: 'who issues the command (recorded in the log; default: $USER)' };

/** A string option's value, or undefined. */
export function stringOption(ctx: CommandContext, name: string): string | undefined {
  const value = ctx.options[name];
  return typeof value === 'string' ? value : undefined;
}

/** Bounds and meaning of a positive integer option (`note` ends the message: "(a log sequence)"). */
export interface IntegerLimits {
  min?: number;
  max?: number;
  note?: string;
}

/** A positive integer option's value (undefined when absent); a UsageError naming the option and the value otherwise. */
export function positiveIntegerOption(ctx: CommandContext, name: string, limits: IntegerLimits = {}): number | undefined {
  const text = stringOption(ctx, name);
  if (text === undefined) return undefined;
  const value = Number(text);
  const note = limits.note !== undefined ? ` ${limits.note}` : '';
  const refuse = (rule: string): never => {
    throw new UsageError(`--${name} must be ${rule}${note}, got "${text}"`);
  };
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < 1) refuse('a positive integer');
  if (limits.min !== undefined && value < limits.min) refuse(`at least ${limits.min}`);
  if (limits.max !== undefined && value > limits.max) refuse(`at most ${limits.max}`);
  return value;
}

/** A boolean option's value. */
export function flag(ctx: CommandContext, name: string): boolean {
  return ctx.options[name] === true;
}

/** A positional the parser guaranteed to be present (declared required). */
export function requiredArg(ctx: CommandContext, name: string): string {
  const value = ctx.args[name];
  if (value === undefined) throw new Error(`internal: argument <${name}> missing`);
  return value;
}
