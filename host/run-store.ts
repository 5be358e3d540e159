import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { MatterStackError } from '../events/errors.ts';
import type { EventLog } from '../events/event-log.ts';
import { JetStreamEventLog } from '../storage/jetstream-event-log.ts';
import { sqliteFault } from '../storage/sqlite-fault.ts';
import { SqliteEventLog } from '../storage/sqlite-event-log.ts';
import { Projector } from '../projections/projector.ts';
import { parseNatsUrl } from '../storage/nats-url.ts';

/** Where a workspaces root keeps its embedded log and its projections. */
export const STATE_DIR = '.matterstack';
/** The embedded log's file and its projections' file in STATE_DIR. */
const LOG_FILE = 'events.sqlite';
const PROJECTIONS_FILE = 'projections.sqlite';
/** How long a writer waits for another process's lock on a SQLite file, unless MATTERSTACK_BUSY_TIMEOUT_MS says otherwise. */
const DEFAULT_BUSY_TIMEOUT_MS = 10_000;

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
  /**
   * Open only what exists (commands that read or act on existing runs): a root without an
   * embedded log is an error, and no `.matterstack/` is created.
   */
  mustExist?: boolean;
}

/** The busy timeout from MATTERSTACK_BUSY_TIMEOUT_MS (a non-negative integer of ms), else the default. */
function busyTimeoutFromEnv(): number {
  const text = process.env.MATTERSTACK_BUSY_TIMEOUT_MS;
  if (text === undefined || text === '') return DEFAULT_BUSY_TIMEOUT_MS;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new MatterStackError('INVALID_CONFIG', `MATTERSTACK_BUSY_TIMEOUT_MS "${text}" must be a non-negative integer (milliseconds)`);
  }
  return value;
}

/** Refuses a root whose embedded log does not exist (before anything is created there). */
function assertLogExists(root: string, stateDir: string, logFile: string): void {
  if (fs.existsSync(logFile)) return;
  if (!fs.existsSync(stateDir)) {
    throw new MatterStackError('WORKSPACE_NOT_FOUND', `no runs under ${root}: it has no ${STATE_DIR}/ folder (create a run with "matterstack init <workspace>", or pass --root)`, { root, noState: true });
  }
  const projections = path.join(stateDir, PROJECTIONS_FILE);
  const orphans = fs.existsSync(projections) ? ` while the projections ${projections} remain (they may list runs that no longer exist)` : '';
  throw new MatterStackError('STORAGE_ERROR', `event log ${logFile} is missing${orphans}: restore it from a backup, or create a run with "matterstack init <workspace>"`, { file: logFile });
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
  /** What the log is, for messages: its file, or the JetStream server. */
  readonly logName: string;
  /** The projections' SQLite file. */
  readonly projectionsFile: string;
  private readonly ownsLog: boolean;

  private constructor(root: string, log: EventLog, projector: Projector, ownsLog: boolean, names: { logName: string; projectionsFile: string }) {
    this.root = root;
    this.log = log;
    this.projector = projector;
    this.ownsLog = ownsLog;
    this.logName = names.logName;
    this.projectionsFile = names.projectionsFile;
  }

  /** Opens (creating if needed, unless `mustExist`) the store of `root`. */
  static async open(options: RunStoreOptions): Promise<RunStore> {
    const root = path.resolve(options.root);
    const stateDir = path.join(root, STATE_DIR);
    const logFile = path.join(stateDir, LOG_FILE);
    const embedded = options.log === undefined && !options.natsUrl;
    if (options.mustExist && embedded) assertLogExists(root, stateDir, logFile);
    const busyTimeoutMs = busyTimeoutFromEnv();
    fs.mkdirSync(stateDir, { recursive: true });
    let log = options.log;
    const ownsLog = log === undefined;
    if (log === undefined) log = options.natsUrl ? await connectJetStream(options.natsUrl, options) : SqliteEventLog.open(logFile, { busyTimeoutMs });
    const projectionsFile = path.join(stateDir, options.natsUrl ? 'projections-nats.sqlite' : PROJECTIONS_FILE);
    let projector: Projector;
    try {
      projector = openProjections(projectionsFile, busyTimeoutMs);
    } catch (error) {
      if (ownsLog) await log.close();
      throw error;
    }
    const logName = embedded ? logFile : log instanceof SqliteEventLog ? log.path : options.natsUrl ? 'JetStream' : 'the event log';
    return new RunStore(root, log, projector, ownsLog, { logName, projectionsFile });
  }

  /** The projections database, caught up with the log. */
  async views(): Promise<Database.Database> {
    await this.project();
    return this.projector.db;
  }

  /** Brings the projections up to date with the log. */
  async project(): Promise<void> {
    try {
      await this.projector.catchUp(this.log);
    } catch (error) {
      throw sqliteFault(error, this.projectionsFile, 'projections', true);
    }
  }

  async close(): Promise<void> {
    this.projector.db.close();
    if (this.ownsLog) await this.log.close();
  }
}

/** Opens the projections file; a SQLite fault is STORAGE_ERROR naming it (it can be deleted: the next command refolds it). */
function openProjections(file: string, busyTimeoutMs: number): Projector {
  let db: Database.Database | undefined;
  try {
    db = new Database(file);
    // busy_timeout first: switching to WAL needs a lock another process may hold.
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    db.pragma('journal_mode = WAL');
    // The projections are rebuilt from the log: a power cut may roll back their last commits (the
    // stored position rolls back with them and the next catch-up re-applies), never corrupt them.
    db.pragma('synchronous = NORMAL');
    return new Projector(db);
  } catch (error) {
    db?.close();
    throw sqliteFault(error, file, 'projections', true);
  }
}
