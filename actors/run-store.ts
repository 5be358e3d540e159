import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { EventLog } from '../events/event-log.ts';
import { JetStreamEventLog } from '../events/jetstream-event-log.ts';
import { SqliteEventLog } from '../events/sqlite-event-log.ts';
import { Projector } from '../projections/projector.ts';
import { parseNatsUrl } from './nats/nats-url.ts';

/** Where a workspaces root keeps its embedded log and its projections. */
export const STATE_DIR = '.matterstack';

/** How to reach the log: the embedded SQLite file under the root (default), or NATS JetStream. */
export interface RunStoreOptions {
  /** The workspaces root. */
  root: string;
  /** A NATS URL: use JetStream instead of the embedded log (`MATTERSTACK_NATS_URL`); `user:pass@` in it wins over natsUser/natsPass. */
  natsUrl?: string;
  natsUser?: string;
  natsPass?: string;
  /** Use this log instead of opening one (tests, workers). */
  log?: EventLog;
}

/** The JetStream log at `natsUrl`, logged in with the URL's credentials, else the options'. */
function connectJetStream(natsUrl: string, options: RunStoreOptions): Promise<JetStreamEventLog> {
  const url = parseNatsUrl(natsUrl);
  const login = url.user !== undefined ? url : { user: options.natsUser, pass: options.natsPass };
  return JetStreamEventLog.connect({ servers: url.servers, user: login.user, pass: login.pass });
}

/**
 * The event log of a workspaces root plus its projections (a local SQLite read model that any
 * process can refold from the log at any time).
 */
export class RunStore {
  readonly root: string;
  readonly log: EventLog;
  readonly projector: Projector;
  private readonly ownsLog: boolean;

  private constructor(root: string, log: EventLog, projector: Projector, ownsLog: boolean) {
    this.root = root;
    this.log = log;
    this.projector = projector;
    this.ownsLog = ownsLog;
  }

  /** Opens (creating if needed) the store of `root`. */
  static async open(options: RunStoreOptions): Promise<RunStore> {
    const root = path.resolve(options.root);
    const stateDir = path.join(root, STATE_DIR);
    fs.mkdirSync(stateDir, { recursive: true });
    let log = options.log;
    const ownsLog = log === undefined;
    if (log === undefined) log = options.natsUrl ? await connectJetStream(options.natsUrl, options) : SqliteEventLog.open(path.join(stateDir, 'events.sqlite'));
    const projectionsFile = options.natsUrl ? 'projections-nats.sqlite' : 'projections.sqlite';
    const db = new Database(path.join(stateDir, projectionsFile));
    // busy_timeout first: switching to WAL needs a lock another process may hold.
    db.pragma('busy_timeout = 10000');
    db.pragma('journal_mode = WAL');
    // The projections are rebuilt from the log: a power cut may roll back their last commits (the
    // stored position rolls back with them and the next catch-up re-applies), never corrupt them.
    db.pragma('synchronous = NORMAL');
    return new RunStore(root, log, new Projector(db), ownsLog);
  }

  /** The projections database, caught up with the log. */
  async views(): Promise<Database.Database> {
    await this.projector.catchUp(this.log);
    return this.projector.db;
  }

  /** Brings the projections up to date with the log. */
  async project(): Promise<void> {
    await this.projector.catchUp(this.log);
  }

  async close(): Promise<void> {
    this.projector.db.close();
    if (this.ownsLog) await this.log.close();
  }
}
