import type { DomainChange } from '../events/changes.ts';
import type { WriterStamp } from '../events/host-version.ts';
import type { Logger } from '../events/logger.ts';
import type { PendingEffect } from '../machines/pending-effects.ts';
import type { RunSystem } from '../machines/system.ts';
import type { RunHost } from './run-host.ts';

/** Runs an effect once its transition is durable; outcomes come back through `host.deliver`. */
export interface EffectHandler {
  run(host: RunHost, pending: PendingEffect): Promise<void>;
}

/** What one `deliver` appended. */
export interface DrainResult {
  /**
   * The log records of the delivered items and of the messages they caused (noop transitions are
   * not appended). Records of other callers' items decided in the same drain are theirs: a drain
   * can run for the whole of a big fan-out, and collecting everything it appended for one caller
   * kept every record of the run alive (half a million at 100k tasks).
   */
  appended: StoredEventLike[];
}

/** The part of an appended record callers look at. */
export interface StoredEventLike {
  seq: number;
  actor: string;
  type: string;
  /** The record's timestamp (what the projections fold as `time`). */
  time: string;
  changes: DomainChange[];
  /** The record's global position, when the append reported it (AppendResult.positions). */
  position: number | null;
}

/** A run's actors as they are after record `seq` (exactly what replaying the log up to it gives). */
export interface HostCheckpoint {
  system: RunSystem;
  seq: number;
  /** Who wrote record `seq` (see `RunHostOptions.writer`). */
  writer: WriterStamp | null;
}

/** Options of a host. */
export interface RunHostOptions {
  /** Runs effects; omitted = a command-only writer (effects are left to the process hosting the run). */
  effects?: EffectHandler;
  /** Injected clock: the host stamps records, the machines never read time. */
  now?: () => Date;
  /** Called after every append (e.g. to update projections). */
  onAppended?: (records: StoredEventLike[]) => void | Promise<void>;
  /** Called once when the host halts (a failed append, an unreadable log: see `RunHost.failure`). */
  onStopped?: (error: unknown) => void;
  /**
   * Live driving (runUntilCompletion): a batch that changed something also carries the RUN.STEP
   * that reacts to it, decided after the batch's events and appended with them — one append where
   * the drive loop would need two (DESIGN: a cycle handles everything that arrived since the
   * previous one). A step that changes nothing is a noop and is not appended.
   */
  autoStep?: boolean;
  /** Whose records this host writes: this process's version and machines (the default), or another (tests play older versions). */
  writer?: WriterStamp;
  /**
   * For views that only read: a logged record the current machines decide differently is noted in
   * `divergence` instead of refusing the restore (HISTORY_DIVERGED). Such a host appends nothing.
   */
  tolerateDivergence?: boolean;
  /** Where the host logs (it should carry the run id; default: the process's logger with the run id). */
  logger?: Logger;
}
