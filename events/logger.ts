import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import { redactPasswords } from './redact-url.ts';

// Loaded on first use (~30 ms and ~25 ms of module loading): a command that logs nothing, or
// nothing on a terminal, does not pay for them at every start.
const require = createRequire(import.meta.url);

export type { Logger } from 'pino';

/** Levels `--log-level` / MATTERSTACK_LOG_LEVEL accept, most severe first (`silent` logs nothing). */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** True when `value` names a log level. */
export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

/** The message for a level that is not one of LOG_LEVELS; `source` names where it came from (`--log-level`). */
export function invalidLogLevelMessage(source: string, value: string): string {
  return `invalid ${source} "${value}": expected one of ${LOG_LEVELS.join(', ')}`;
}

/** Where log lines go: anything with a `write` of text (process.stderr by default; tests pass a collector). */
export interface LogSink {
  write(text: string): unknown;
}

/** How a logger writes. */
export interface LoggerOptions {
  level: LogLevel;
  /** `json`: one JSON object a line; `pretty`: readable lines. Default: pretty when the sink is a TTY, else JSON. */
  format?: 'json' | 'pretty';
  /** Default process.stderr: stdout carries command output and --json. */
  sink?: LogSink;
}

/**
 * A pino logger writing to `sink`. Every line passes through `redactPasswords`: a NATS URL with
 * its password can reach a log in any error message, which no list of field paths could catch.
 * Writes are synchronous (process.stderr is, on Linux, for files, pipes and TTYs): a line logged
 * just before the process exits is not lost.
 */
export function createLogger(options: LoggerOptions): Logger {
  const sink = options.sink ?? process.stderr;
  const pretty = (options.format ?? (isTty(sink) ? 'pretty' : 'json')) === 'pretty';
  const prettify = pretty ? (require('pino-pretty') as typeof import('pino-pretty')).prettyFactory({ colorize: isTty(sink), singleLine: true, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss.l' }) : undefined;
  const destination = {
    write(line: string): void {
      const safe = redactPasswords(line);
      sink.write(prettify === undefined ? safe : prettify(safe));
    },
  };
  const { pino } = require('pino') as typeof import('pino');
  return pino({ level: options.level, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}

function isTty(sink: LogSink): boolean {
  return (sink as { isTTY?: boolean }).isTTY === true;
}

let rootOptions: LoggerOptions = { level: 'warn' };
let root: Logger | undefined;

/**
 * The process's logger: as `configureLogging` set it (the CLI and the worker do, from
 * `--log-level`), else warnings and errors on stderr; made at first use. Components take a
 * child of it unless their caller gave them a logger.
 */
export function rootLogger(): Logger {
  root ??= createLogger(rootOptions);
  return root;
}

/** Sets how the process's logger writes (call once at start, before components take their children). */
export function configureLogging(options: LoggerOptions): void {
  rootOptions = options;
  root = undefined;
}
