// Child process of the SQLite multi-process test: appends `count` single-event batches to one run
// of the log file, retrying on version conflicts, then prints the ids it wrote.
import { isMatterStackError } from '../../events/errors.ts';
import { SqliteEventLog } from '../../storage/sqlite-event-log.ts';

const [path, runId, countText, tag] = process.argv.slice(2);
const log = SqliteEventLog.open(path as string);
const ids: string[] = [];
for (let i = 0; i < Number(countText); i++) {
  const eventId = `${tag}-${i}`;
  const event = { eventId, type: 'CHILD.APPENDED', actor: 'run', time: new Date().toISOString(), payload: { i }, from: null, to: null, changes: [] };
  for (;;) {
    const expected = await log.lastSeq(runId as string);
    try {
      await log.append(runId as string, [event], expected);
      break;
    } catch (error) {
      if (!isMatterStackError(error, 'VERSION_CONFLICT')) throw error;
    }
  }
  ids.push(eventId);
}
await log.close();
process.stdout.write(JSON.stringify(ids));
