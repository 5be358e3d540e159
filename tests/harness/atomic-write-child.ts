// A writer killed between the two steps of writeFileAtomic: it writes the temporary file
// (flushed), says so, and waits for the SIGKILL the test sends before the rename.
// With a third argument "commit" it finishes the write instead (the strace test watches its syscalls).
import { commitTempFile, writeTempFile } from '../../operators/atomic-file.ts';

const [file, content, mode] = process.argv.slice(2);
if (file === undefined || content === undefined) throw new Error('usage: atomic-write-child <file> <content> [commit]');
const tmp = await writeTempFile(file, content);
if (mode === 'commit') {
  await commitTempFile(tmp, file);
  process.stdout.write('COMMITTED\n');
} else {
  process.stdout.write(`WRITTEN ${tmp}\n`);
  setInterval(() => undefined, 60_000);
}
