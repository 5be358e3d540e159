import type { CommandSpec, OptionSpec } from './command.ts';
import { GLOBAL_OPTIONS } from './global-options.ts';

const GROUP_TITLES: Record<CommandSpec['group'], string> = {
  runs: 'Run a campaign',
  views: 'Look at runs',
  commands: 'Steer a run (commands are recorded in the run\'s log)',
  maintenance: 'Maintenance',
};

/** Exit codes, shown in the global help and in every command's help. */
export const EXIT_CODE_HELP = [
  '0 ok · 1 internal error · 2 usage or invalid input · 3 run/task/attempt/workspace not found',
  '4 command rejected or run exists · 5 concurrent writer conflict · 6 invalid workflow, config or campaign',
  '7 operator or log unavailable · 8 corrupt log event · 9 the log\'s history and this version\'s machines disagree',
  '(replay --verify; a run this version will not host: README "Upgrades and history") · 10 run FAILED · 11 run CANCELLED',
  '12 storage fault: the log or projections file is missing, locked, read-only, full or corrupt (the line names it)',
  '13 cancel accepted, attempts still stopping after --wait-timeout · 14 check: a scenario of the campaign failed',
  '130 interrupted (Ctrl-C)',
];

/** `<run> [<task>]` for a command's positionals. */
export function argsSynopsis(command: CommandSpec): string {
  return command.args.map((a) => (a.required ? `<${a.name}>` : `[<${a.name}>]`)).join(' ');
}

function optionLabel(name: string, option: OptionSpec): string {
  const long = `--${name}${option.valueName ? ` ${option.valueName}` : ''}`;
  return option.short ? `-${option.short}, ${long}` : long;
}

function optionLines(options: Readonly<Record<string, OptionSpec>>): string[] {
  const entries = Object.entries(options);
  const width = Math.max(...entries.map(([name, o]) => optionLabel(name, o).length));
  return entries.map(([name, o]) => `  ${optionLabel(name, o).padEnd(width)}  ${o.description}`);
}

/** The `--help` text of one command: usage, arguments, options, examples, exit codes. */
export function commandHelp(command: CommandSpec): string {
  const synopsis = argsSynopsis(command);
  const lines = [`Usage: matterstack ${command.name}${synopsis ? ` ${synopsis}` : ''} [options]`, '', command.summary.charAt(0).toUpperCase() + command.summary.slice(1) + '.', ''];
  lines.push(...command.description.split('\n'), '');
  if (command.args.length > 0) {
    const width = Math.max(...command.args.map((a) => a.name.length + 2));
    lines.push('Arguments:', ...command.args.map((a) => `  ${`<${a.name}>`.padEnd(width)}  ${a.description}`), '');
  }
  if (Object.keys(command.options).length > 0) lines.push('Options:', ...optionLines(command.options), '');
  const globals = Object.fromEntries(Object.entries(GLOBAL_OPTIONS).filter(([name]) => name !== 'version'));
  lines.push('Global options:', ...optionLines(globals), '');
  lines.push('Examples:', ...command.examples.map((e) => `  matterstack ${e}`), '');
  for (const note of command.notes ?? []) lines.push(...note.split('\n'), '');
  lines.push('Exit codes:', ...EXIT_CODE_HELP.map((l) => `  ${l}`));
  return lines.join('\n');
}

/** The top-level help: what MatterStack is, the commands by group, global options. */
export function globalHelp(commands: readonly CommandSpec[], version: string): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = [
    `matterstack ${version} — run long scientific campaigns from an event log that survives any crash`,
    '',
    'Usage: matterstack <command> [arguments] [options]',
    '',
  ];
  for (const group of Object.keys(GROUP_TITLES) as CommandSpec['group'][]) {
    const members = commands.filter((c) => c.group === group);
    if (members.length === 0) continue;
    lines.push(`${GROUP_TITLES[group]}:`, ...members.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`), '');
  }
  lines.push('Global options:', ...optionLines(GLOBAL_OPTIONS), '');
  lines.push(
    'Examples:',
    '  matterstack init demos/battery_screening        # prints the new run id',
    '  matterstack loop <run>                          # drive it to the end (Ctrl-C stops, resumable)',
    '  matterstack status <run> --json',
    '',
    'Run "matterstack <command> --help" for a command\'s arguments, options and examples.',
    '',
    'Exit codes:',
    ...EXIT_CODE_HELP.map((l) => `  ${l}`),
  );
  return lines.join('\n');
}
