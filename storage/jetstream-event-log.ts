import {
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  StorageType,
  jetstream,
  jetstreamManager,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type MsgRequest,
  type PubAck,
  type StoredMsg,
} from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { StoredEvent, ValidNewEvent } from '../events/envelope.ts';
import { MatterStackError, VersionConflictError } from '../events/errors.ts';
import type { AppendResult, EventLog, FollowOptions, LoggedRun } from '../events/event-log.ts';
import { redactPasswords } from '../events/redact-url.ts';
import { EVENT_SUBJECTS, eventSubject, runIdOfEventSubject } from '../events/subjects.ts';
import { chunkHeaders, decodeMessage, encodeBatch, lastSeqOf, statedLastSeq, type Chunk, type StreamMessage } from './jetstream-codec.ts';
import { RunMessageIndex } from './jetstream-run-index.ts';
import { checkAppend } from '../events/validate-events.ts';

/** How long a bounded read waits for its next message before it fails as LOG_UNAVAILABLE. */
const READ_STALL_MS = 5_000;
/** Messages a reading consumer may have in flight (see `messages`). */
const CONSUME_MAX_MESSAGES = 32;
/** Stream settings of a `JetStreamEventLog`. */
export interface JetStreamStreamOptions {
  /** Stream holding every run's log. Default `MS_EVENTS`. */
  stream?: string;
  /** Replicas when the stream is created (1 on a single server). */
  replicas?: number;
  /** Storage when the stream is created. Default `file`. */
  storage?: 'file' | 'memory';
}

/** Options of `JetStreamEventLog.connect`. */
export interface JetStreamConnectOptions extends JetStreamStreamOptions {
  servers: string | string[];
  user?: string;
  pass?: string;
  /** Connection name shown by the server. */
  name?: string;
}

/** Where a run's log ends: its per-run sequence and the stream sequence of its last message. */
interface Tail {
  seq: number;
  streamSeq: number;
}

function wrongLastSequence(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamWrongLastSequence;
}

function unavailable(error: unknown, what: string): MatterStackError {
  // `what` may name a server URL given with its password.
  return new MatterStackError('LOG_UNAVAILABLE', redactPasswords(`JetStream ${what} failed: ${String(error)}`), {}, { cause: error });
}

/**
 * The distributed event log on NATS JetStream: one stream for all runs, one subject per run
 * (`ms.evt.<runId>.log`), one message per appended batch (all-or-nothing), optimistic
 * concurrency through `Nats-Expected-Last-Subject-Sequence`.
 */
export class JetStreamEventLog implements EventLog {
  private readonly tails = new Map<string, Tail>();
  /** Runs with a publish of this log awaiting its ack (a count per run). */
  private readonly publishing = new Map<string, number>();
  /** Where the runs' records sit in the stream (readRun starts near `afterSeq`, not at the stream's start). */
  private readonly index = new RunMessageIndex();
  private readonly active = new Set<ConsumerMessages>();
  private closed = false;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
    private readonly ownsConnection: boolean,
  ) {}

  /** Connects to NATS and opens (creating if missing) the events stream. */
  static async connect(options: JetStreamConnectOptions): Promise<JetStreamEventLog> {
    let nc: NatsConnection;
    try {
      nc = await connect({ servers: options.servers, user: options.user, pass: options.pass, name: options.name ?? 'matterstack-event-log' });
    } catch (error) {
      throw unavailable(error, `connection to ${String(options.servers)}`);
    }
    try {
      return await JetStreamEventLog.open(nc, options, true);
    } catch (error) {
      await nc.close();
      throw error;
    }
  }

  /** Opens the log on an existing connection (left open by `close()` unless `owns`). */
  static async open(nc: NatsConnection, options: JetStreamStreamOptions = {}, owns = false): Promise<JetStreamEventLog> {
    const stream = options.stream ?? 'MS_EVENTS';
    const jsm = await jetstreamManager(nc);
    try {
      await jsm.streams.info(stream);
    } catch (error) {
      if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound)) throw unavailable(error, `stream ${stream} lookup`);
      await jsm.streams.add({
        name: stream,
        subjects: [EVENT_SUBJECTS],
        storage: options.storage === 'memory' ? StorageType.Memory : StorageType.File,
        num_replicas: options.replicas ?? 1,
      });
    }
    return new JetStreamEventLog(nc, jetstream(nc), jsm, stream, owns);
  }

  /** The log's connection, for clients that must live and reconnect with it (the run leases of `loop --nats`). */
  get connection(): NatsConnection {
    return this.nc;
  }

  /** Appends a batch as one message if the run is at `expectedSeq` (see `EventLog.append`). */
  async append(runId: string, events: readonly ValidNewEvent[], expectedSeq: number): Promise<AppendResult> {
    this.assertOpen();
    checkAppend(runId, events, expectedSeq);
    let tail = this.tails.get(runId);
    if (tail === undefined || tail.seq !== expectedSeq) tail = await this.fetchTail(runId);
    if (tail.seq !== expectedSeq) return this.conflictOrDuplicate(runId, events, expectedSeq, tail.seq);
    if (events.length === 0) return { runId, firstSeq: expectedSeq + 1, lastSeq: expectedSeq, duplicate: false };

    let streamSeq = tail.streamSeq;
    let seq = expectedSeq;
    let wroteSomething = false;
    let sawDuplicate = false;
    // An event's position is its message's stream sequence (codec: shared by the chunk's events).
    const positions: number[] = [];
    for (const chunk of encodeBatch(runId, events, expectedSeq, this.nc.info?.max_payload ?? 1024 * 1024)) {
      let ack;
      try {
        ack = await this.publish(runId, chunk, streamSeq);
      } catch (error) {
        this.tails.delete(runId);
        if (!wrongLastSequence(error)) throw unavailable(error, `publish to ${eventSubject(runId)}`);
        const actual = (await this.fetchTail(runId)).seq;
        return this.conflictOrDuplicate(runId, events, expectedSeq, actual);
      }
      if (ack.duplicate) sawDuplicate = true;
      else {
        wroteSomething = true;
        this.index.record(runId, chunk.firstSeq, ack.seq);
        for (let s = chunk.firstSeq; s <= chunk.lastSeq; s++) positions.push(ack.seq);
      }
      streamSeq = ack.seq;
      seq = chunk.lastSeq;
    }
    // After a duplicate ack the ack's sequence is the original message's: re-read the tail next time.
    if (sawDuplicate) {
      this.tails.delete(runId);
      return { runId, firstSeq: expectedSeq + 1, lastSeq: seq, duplicate: !wroteSomething };
    }
    this.tails.set(runId, { seq, streamSeq });
    return { runId, firstSeq: expectedSeq + 1, lastSeq: seq, duplicate: false, positions };
  }

  /** Publishes one chunk after the run's message at `afterStreamSeq`; the run counts as publishing until the ack. */
  private async publish(runId: string, chunk: Chunk, afterStreamSeq: number): Promise<PubAck> {
    this.publishing.set(runId, (this.publishing.get(runId) ?? 0) + 1);
    try {
      return await this.js.publish(eventSubject(runId), chunk.data, {
        // Deterministic per chunk: a retried publish is dropped by the server's de-duplication.
        msgID: `${runId}:${chunk.firstSeq}:${chunk.firstEventId}`,
        expect: { lastSubjectSequence: afterStreamSeq },
        headers: chunkHeaders(chunk),
      });
    } finally {
      const left = (this.publishing.get(runId) ?? 1) - 1;
      if (left === 0) this.publishing.delete(runId);
      else this.publishing.set(runId, left);
    }
  }

  /**
   * True while `tail` is still the run's last acknowledged message. While this log's own publish
   * awaits its ack the answer is yes without asking: the server would return that very message
   * (up to max_payload, base64-encoded), and a foreign append meanwhile fails the publish anyway.
   */
  private async isLast(runId: string, tail: Tail): Promise<boolean> {
    return this.publishing.has(runId) || !(await this.hasMessageAfter(runId, tail.streamSeq));
  }

  /** A stale expectation: an idempotent retry when the stored events are this batch, else a conflict. */
  private async conflictOrDuplicate(runId: string, events: readonly ValidNewEvent[], expectedSeq: number, actual: number): Promise<AppendResult> {
    if (actual > expectedSeq && events.length > 0) {
      let i = 0;
      for await (const stored of this.readRun(runId, expectedSeq)) {
        if (stored.eventId !== events[i]?.eventId) break;
        i += 1;
        if (i === events.length) return { runId, firstSeq: expectedSeq + 1, lastSeq: expectedSeq + events.length, duplicate: true };
      }
    }
    throw new VersionConflictError(runId, expectedSeq, actual);
  }

  /** Reads the last message of the run's subject: its last per-run seq and stream seq. */
  private async fetchTail(runId: string): Promise<Tail> {
    const message = await this.lastMessage(runId);
    if (message === null) return { seq: 0, streamSeq: 0 };
    const tail = { seq: lastSeqOf(message), streamSeq: message.seq };
    this.tails.set(runId, tail);
    return tail;
  }

  /** The last message stored on the run's subject (null when none), undecoded. */
  private async lastMessage(runId: string): Promise<StoredMsg | null> {
    try {
      return await this.jsm.streams.getMessage(this.stream, { last_by_subj: eventSubject(runId) });
    } catch (error) {
      if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.NoMessageFound) return null;
      throw unavailable(error, `last message lookup for run ${runId}`);
    }
  }

  /** Raw messages matching `filter` from stream sequence `start`, until `end` (or forever if undefined). */
  private async *messages(filter: string, start: number, end: number | undefined, signal?: AbortSignal): AsyncGenerator<StreamMessage> {
    if (end !== undefined && end < start) return;
    if (signal?.aborted) return;
    const consumer = await this.js.consumers.get(this.stream, {
      filter_subjects: filter,
      ...(start > 1 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start } : { deliver_policy: DeliverPolicy.All }),
    });
    // Few messages in flight: they are up to ~1 MB each, and 256 of them outran the server's
    // buffer for this connection while the process was busy; the read stalled (a 40k-task run).
    const iter = await consumer.consume({ max_messages: CONSUME_MAX_MESSAGES });
    this.active.add(iter);
    const stop = (): void => {
      iter.stop();
    };
    signal?.addEventListener('abort', stop, { once: true });
    // A bounded read whose consumer went quiet (seen after a server restart: the consumer of the
    // old connection never delivers again) must fail, so its caller retries, instead of hanging.
    let stalled = false;
    let watchdog: NodeJS.Timeout | undefined;
    const arm = (): void => {
      if (end === undefined) return;
      clearTimeout(watchdog);
      watchdog = setTimeout(() => {
        stalled = true;
        iter.stop();
      }, READ_STALL_MS);
    };
    arm();
    // Stream sequences only grow, so a message at or below the last one passed was yielded before:
    // skip it (a read in the cluster test once met a run's earlier message again after the stream
    // leader was killed; a redelivery by the consumer is the likely cause, not reproduced since).
    let passed = start - 1;
    try {
      for await (const m of iter) {
        if (signal?.aborted) return;
        arm();
        if (m.seq <= passed) continue;
        passed = m.seq;
        yield { subject: m.subject, streamSeq: m.seq, data: m.data };
        if (end !== undefined && m.seq >= end) return;
      }
      if (stalled) throw new MatterStackError('LOG_UNAVAILABLE', `reading ${filter}: no message for ${READ_STALL_MS} ms before stream sequence ${end}`, { filter });
    } finally {
      clearTimeout(watchdog);
      signal?.removeEventListener('abort', stop);
      this.active.delete(iter);
      iter.stop();
    }
  }

  /** The stream sequence of the last message in the stream (0 when empty). */
  private async lastStreamSeq(): Promise<number> {
    try {
      return (await this.jsm.streams.info(this.stream)).state.last_seq;
    } catch (error) {
      throw unavailable(error, `stream ${this.stream} info`);
    }
  }

  /** The run's events after `afterSeq`, from an ordered consumer on the run's subject. */
  async *readRun(runId: string, afterSeq = 0): AsyncIterable<StoredEvent> {
    this.assertOpen();
    // Nothing after the tail this log appended itself: one small request instead of fetching the
    // run's last message and reading it again through a consumer (a host restored right after
    // initializeRun re-read and re-validated the whole plan only to skip it).
    const known = this.tails.get(runId);
    if (known !== undefined && known.seq <= afterSeq && (await this.isLast(runId, known))) return;
    // Only the stream sequence of the end is needed; decoding (and validation) happens in order.
    const last = await this.lastMessage(runId);
    if (last === null || (statedLastSeq(last) ?? Infinity) <= afterSeq) return;
    yield* this.runEvents(runId, afterSeq, last.seq);
  }

  private async *runEvents(runId: string, afterSeq: number, end: number | undefined, signal?: AbortSignal): AsyncGenerator<StoredEvent> {
    const anchor = this.index.anchorFor(runId, afterSeq + 1);
    let next = anchor?.firstSeq ?? 1;
    for await (const message of this.messages(eventSubject(runId), anchor?.streamSeq ?? 1, end, signal)) {
      const events = decodeMessage(message, next);
      if (events.length > 0) this.index.record(runId, events[0]!.seq, message.streamSeq);
      for (const event of events) {
        next = event.seq + 1;
        if (event.seq > afterSeq) yield event;
      }
    }
  }

  /** Every event after stream position `afterPosition`, in stream order. */
  async *readAll(afterPosition = 0): AsyncIterable<StoredEvent> {
    this.assertOpen();
    const end = await this.lastStreamSeq();
    yield* this.allEvents(afterPosition, end);
  }

  private async *allEvents(afterPosition: number, end: number | undefined, signal?: AbortSignal): AsyncGenerator<StoredEvent> {
    // Per-run continuity is only known for runs seen from their first event.
    const nextSeq = new Map<string, number>();
    for await (const message of this.messages(EVENT_SUBJECTS, afterPosition + 1, end, signal)) {
      const runId = runIdOfEventSubject(message.subject) ?? message.subject;
      const events = decodeMessage(message, nextSeq.get(runId));
      const last = events[events.length - 1];
      if (last !== undefined) nextSeq.set(runId, last.seq + 1);
      yield* events;
    }
  }

  /** Existing then live events from an ordered consumer that keeps delivering, until abort or close. */
  async *follow(options: FollowOptions = {}): AsyncIterable<StoredEvent> {
    this.assertOpen();
    const { runId, signal } = options;
    if (runId === undefined) yield* this.allEvents(options.afterPosition ?? 0, undefined, signal);
    else yield* this.runEvents(runId, options.afterSeq ?? 0, undefined, signal);
  }

  /** The run's last sequence (0 when it has no events), read from the server. */
  async lastSeq(runId: string): Promise<number> {
    this.assertOpen();
    // Polled often (a loop watching for other writers): when the tail this log knows is still the
    // last message of the run, answer without fetching that message (up to max_payload) again.
    const known = this.tails.get(runId);
    if (known !== undefined && (await this.isLast(runId, known))) return known.seq;
    return (await this.fetchTail(runId)).seq;
  }

  /** True when the run's subject has a message after stream sequence `streamSeq`. */
  private async hasMessageAfter(runId: string, streamSeq: number): Promise<boolean> {
    // STREAM.MSG.GET takes next_by_subj since nats-server 2.9; nats.js types it for direct gets only.
    const request = { seq: streamSeq + 1, next_by_subj: eventSubject(runId) } as unknown as MsgRequest;
    try {
      return (await this.jsm.streams.getMessage(this.stream, request)) !== null;
    } catch (error) {
      if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.NoMessageFound) return false;
      throw unavailable(error, `next message lookup for run ${runId}`);
    }
  }

  /**
   * Resolves once the connection has flushed: appends already waited for the server's ack,
   * which JetStream sends after storing the message (on a quorum of replicas when clustered).
   */
  async flush(): Promise<void> {
    if (!this.closed) await this.nc.flush();
  }

  /** Every run with at least one event, by run id. */
  async listRuns(): Promise<LoggedRun[]> {
    this.assertOpen();
    const info = await this.jsm.streams.info(this.stream, { subjects_filter: EVENT_SUBJECTS });
    const runIds = Object.keys(info.state.subjects ?? {})
      .map(runIdOfEventSubject)
      .filter((id): id is string => id !== undefined)
      .sort();
    const runs: LoggedRun[] = [];
    for (const runId of runIds) runs.push({ runId, lastSeq: (await this.fetchTail(runId)).seq });
    return runs;
  }

  /** Stops the followers; closes the connection if this log opened it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const iter of this.active) iter.stop();
    if (this.ownsConnection) await this.nc.drain();
  }

  private assertOpen(): void {
    if (this.closed) throw new MatterStackError('LOG_UNAVAILABLE', 'the event log is closed');
  }
}

