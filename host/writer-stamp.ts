import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { WriterStamp } from '../events/host-version.ts';

/** The package version, read from package.json next to the sources (no build step). */
export function packageVersion(): string {
  const text = readFileSync(new URL('../package.json', import.meta.url), 'utf8');
  const version = (JSON.parse(text) as { version?: unknown }).version;
  return typeof version === 'string' ? version : 'unknown';
}

/**
 * Hex digest (sha256, first 16 digits) of the machine definitions: every `.ts` file under
 * machines/ — the run and attempt machines and the pure rules, change derivation and helpers they
 * decide with — as path and text, in path order, line endings normalised. Any edit there changes
 * it (a comment too: a spare HOST.VERSION record costs one line; a missed rule change would hide
 * which logic wrote a record). The sources ship with the package (it runs them, no build step).
 */
export function machinesHash(): string {
  const dir = fileURLToPath(new URL('../machines/', import.meta.url));
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => file.split('\\').join('/'))
    .sort();
  const hash = createHash('sha256');
  for (const file of files) {
    hash.update(`${file}\n`);
    hash.update(readFileSync(new URL(file, new URL('../machines/', import.meta.url)), 'utf8').replace(/\r\n/g, '\n'));
    hash.update('\n\0\n');
  }
  return hash.digest('hex').slice(0, 16);
}

let current: WriterStamp | undefined;

/** This process's writer stamp (version and machines hash), computed once. */
export function currentWriter(): WriterStamp {
  current ??= { version: packageVersion(), machines: machinesHash() };
  return current;
}
