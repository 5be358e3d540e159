import { EVENT_SUBJECTS, runIdOfEventSubject } from '../events/subjects.ts';
import type { WatchRuns } from '../web/resync-feed.ts';
import { connectTo } from './nats-session.ts';
import type { NatsTarget } from './nats-target.ts';

/**
 * Hears which runs grow from the events' subjects on core NATS (`ms.evt.<run>.log`, which the
 * viewer may subscribe to though it may not read the stream): only the subject is looked at.
 * A subscription the server refuses is reported to `failed`.
 */
export function natsRunWatch(target: NatsTarget): WatchRuns {
  return async (touched, failed) => {
    const nc = await connectTo(target, true);
    nc.subscribe(EVENT_SUBJECTS, {
      callback: (error, message) => {
        if (error !== null) failed(error);
        else {
          const runId = runIdOfEventSubject(message.subject);
          if (runId !== undefined) touched(runId);
        }
      },
    });
    await nc.flush();
    return () => nc.close();
  };
}
