import { MatterStackError } from '../../events/errors.ts';
import type { LogSource } from '../attempt-log.ts';
import type { CommandRunner } from './command-runner.ts';

// Positional parameters, never text spliced into the script: the path reaches the shell as "$1".
const SIZE_SCRIPT = 'if [ -f "$1" ]; then wc -c < "$1"; else echo none; fi';
// base64: the runners collect output as text, and a chunk may end inside a UTF-8 character.
const READ_SCRIPT = 'tail -c +"$2" "$1" | head -c "$3" | base64';

/** A log file on the cluster (the job directory of an attempt run over SSH), read a piece at a time. */
export function remoteLogSource(runner: CommandRunner, file: string): LogSource {
  const fail = (what: string, stderr: string): never => {
    throw new MatterStackError('OPERATOR_ERROR', `${runner.target}: ${what} ${file} failed: ${stderr.trim().split('\n')[0] ?? ''}`, { file });
  };
  return {
    where: `${runner.target}:${file}`,
    async size() {
      const result = await runner.run(['sh', '-c', SIZE_SCRIPT, 'sh', file]);
      if (result.code !== 0) fail('reading the size of', result.stderr);
      const text = result.stdout.trim();
      return text === 'none' ? null : Number.parseInt(text, 10);
    },
    async read(offset, maxBytes) {
      const result = await runner.run(['sh', '-c', READ_SCRIPT, 'sh', file, String(offset + 1), String(maxBytes)]);
      if (result.code !== 0) fail('reading', result.stderr);
      return Buffer.from(result.stdout.replace(/\s+/g, ''), 'base64');
    },
  };
}
