import type { OptionSpec } from './command.ts';

/** Options every command accepts, before or after the command name. */
export const GLOBAL_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  root: {
    type: 'string',
    valueName: 'DIR',
    description: 'workspaces root (default: $MATTERSTACK_WORKSPACES_ROOT, else the nearest "workspaces" folder at or above the current directory)',
  },
  nats: {
    type: 'string',
    valueName: 'URL',
    description: 'use NATS at URL (default: $MATTERSTACK_NATS_URL): commands go to the workers, reads to JetStream; without it, the embedded log in <root>/.matterstack',
  },
  user: {
    type: 'string',
    valueName: 'NAME',
    description: 'NATS user (default: $MATTERSTACK_NATS_USER; password from $MATTERSTACK_NATS_PASS); or put user:pass in the --nats URL',
  },
  'log-level': {
    type: 'string',
    valueName: 'LEVEL',
    description: 'diagnostics on stderr from this level up: fatal, error, warn, info, debug, trace or silent (default: $MATTERSTACK_LOG_LEVEL, else warn; info for worker)',
  },
  json: { type: 'boolean', description: 'machine-readable JSON on stdout (errors too: {"error":{"code","message"}})' },
  help: { type: 'boolean', short: 'h', description: 'show help' },
  version: { type: 'boolean', description: 'print the version' },
};

/** Global options that take a value (the command-name scan must skip their values). */
export const GLOBAL_VALUE_OPTIONS = new Set(['--root', '--nats', '--user', '--log-level']);
