import { parseArgs } from 'node:util';
import { invalidLogLevelMessage, isLogLevel, type LogLevel } from '../events/logger.ts';
import type { CommandSpec, GlobalOptions, OptionSpec } from './command.ts';
import { GLOBAL_OPTIONS, GLOBAL_VALUE_OPTIONS } from './global-options.ts';
import { closest } from './suggest.ts';
import { UsageError } from './usage-error.ts';

/** What the command line asks for. */
export type ParsedCommandLine =
  | { kind: 'global-help'; json: boolean }
  | { kind: 'version'; json: boolean }
  | { kind: 'missing-command'; json: boolean }
  | { kind: 'command-help'; command: CommandSpec; json: boolean }
  | {
      kind: 'command';
      command: CommandSpec;
      json: boolean;
      global: GlobalOptions;
      args: Record<string, string | undefined>;
      options: Record<string, string | boolean | undefined>;
    };

/** Index of the command name: the first token that is neither an option nor a global option's value. */
function commandIndex(argv: readonly string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === '--') return i + 1 < argv.length ? i + 1 : -1;
    if (GLOBAL_VALUE_OPTIONS.has(token)) {
      i++;
      continue;
    }
    if (!token.startsWith('-') || token === '-') return i;
  }
  return -1;
}

function parseConfig(options: Readonly<Record<string, OptionSpec>>) {
  return Object.fromEntries(
    Object.entries(options).map(([name, o]) => [name, o.short ? { type: o.type, short: o.short } : { type: o.type }]),
  ) as Record<string, { type: 'string' | 'boolean'; short?: string }>;
}

/** Turns parseArgs' verbose errors into one line naming the option. */
function optionError(error: unknown, command: string | undefined, known: readonly string[]): UsageError {
  const code = (error as { code?: string }).code;
  const message = error instanceof Error ? error.message : String(error);
  const quoted = /'([^']+)'/.exec(message)?.[1] ?? '';
  const where = command ? ` for "${command}"` : '';
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const name = quoted.replace(/^-+/, '').split('=')[0] ?? quoted;
    const suggestion = closest(name, known);
    return new UsageError(`unknown option ${quoted}${where}${suggestion ? ` — did you mean --${suggestion}?` : ''}`, command);
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const option = quoted.split(' ')[0] ?? quoted;
    return message.includes('argument missing')
      ? new UsageError(`option ${option} needs a value${where}`, command)
      : new UsageError(`option ${option} takes no value${where}`, command);
  }
  return new UsageError(message.split('\n')[0] ?? message, command);
}

/**
 * `--max-concurrent -1` → `--max-concurrent=-1`: parseArgs takes a value starting with "-" for an
 * option, and would then say the option "takes no value"; a negative number is a value (that the
 * command refuses with a clear message), never an option.
 */
function attachNegativeValues(args: readonly string[], options: Readonly<Record<string, OptionSpec>>): string[] {
  const stringOptions = new Set(Object.entries(options).filter(([, spec]) => spec.type === 'string').map(([name]) => `--${name}`));
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const token = args[i]!;
    if (token === '--') return [...out, ...args.slice(i)];
    const next = args[i + 1];
    if (stringOptions.has(token) && next !== undefined && /^-\d/.test(next)) {
      out.push(`${token}=${next}`);
      i++;
    } else out.push(token);
  }
  return out;
}

/** `--log-level`, else MATTERSTACK_LOG_LEVEL, validated (the error names whichever was given). */
function logLevelOf(flag: string | boolean | undefined, env: NodeJS.ProcessEnv, command: string): LogLevel | undefined {
  if (typeof flag === 'string') {
    if (!isLogLevel(flag)) throw new UsageError(invalidLogLevelMessage('--log-level', flag), command);
    return flag;
  }
  const fromEnv = env.MATTERSTACK_LOG_LEVEL;
  if (fromEnv === undefined || fromEnv === '') return undefined;
  if (!isLogLevel(fromEnv)) throw new UsageError(invalidLogLevelMessage('MATTERSTACK_LOG_LEVEL', fromEnv), command);
  return fromEnv;
}

/** Is `--json` somewhere before a `--`? (So even usage errors can answer in JSON.) */
function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

/**
 * Parses argv into a command and its arguments. Global options may come before or after the
 * command name. Throws UsageError (exit 2) for anything malformed, with a suggestion when close.
 */
export function parseCommandLine(argv: readonly string[], commands: readonly CommandSpec[], env: NodeJS.ProcessEnv): ParsedCommandLine {
  const json = wantsJson(argv);
  const index = commandIndex(argv);
  const names = commands.map((c) => c.name);
  if (index === -1) {
    let values: Record<string, string | boolean | undefined>;
    try {
      ({ values } = parseArgs({ args: [...argv], options: parseConfig(GLOBAL_OPTIONS), allowPositionals: false, strict: true }));
    } catch (error) {
      throw optionError(error, undefined, Object.keys(GLOBAL_OPTIONS));
    }
    if (values.version) return { kind: 'version', json };
    if (values.help) return { kind: 'global-help', json };
    return { kind: 'missing-command', json };
  }
  const name = argv[index]!;
  const command = commands.find((c) => c.name === name);
  if (command === undefined) {
    const suggestion = closest(name, names);
    throw new UsageError(`unknown command "${name}"${suggestion ? ` — did you mean "${suggestion}"?` : ''} (run "matterstack --help" for the list)`);
  }
  const all = { ...GLOBAL_OPTIONS, ...command.options };
  const rest = attachNegativeValues([...argv.slice(0, index), ...argv.slice(index + 1)], all);
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args: rest, options: parseConfig(all), allowPositionals: true, strict: true });
  } catch (error) {
    throw optionError(error, command.name, Object.keys(all).filter((n) => n !== 'version'));
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'command-help', command, json };
  const args: Record<string, string | undefined> = {};
  command.args.forEach((spec, i) => {
    const value = positionals[i];
    if (value === undefined && spec.required) throw new UsageError(`missing argument <${spec.name}> for "${command.name}"`, command.name);
    args[spec.name] = value;
  });
  const extra = positionals.slice(command.args.length);
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}" for "${command.name}"`, command.name);
  const options: Record<string, string | boolean | undefined> = {};
  for (const key of Object.keys(command.options)) options[key] = values[key];
  const root = typeof values.root === 'string' ? values.root : undefined;
  const nats = typeof values.nats === 'string' ? values.nats : env.MATTERSTACK_NATS_URL || undefined;
  const user = typeof values.user === 'string' ? values.user : env.MATTERSTACK_NATS_USER || undefined;
  const logLevel = logLevelOf(values['log-level'], env, command.name);
  const global = { root, natsUrl: nats, natsUser: user, json: values.json === true, logLevel };
  return { kind: 'command', command, json: values.json === true, global, args, options };
}
