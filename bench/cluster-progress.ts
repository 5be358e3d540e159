// Progress of the cluster bench read from the events stream itself (an ordered consumer), so that
// watching the runs costs the workers nothing: asking every run's status twice a second was most of
// the load the old bench put on them.
import { jetstream, type ConsumerMessages } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';

/** The record fields the bench looks at (one stream message is a JSON array of them). */
interface RecordHead {
  runId: string;
  actor: string;
  to: unknown;
}

/** An attempt's final success state: `completed` (a gate) or `{ completed: 'collected' }` once its results are in. */
function attemptCompleted(to: unknown): boolean {
  return to === 'completed' || (typeof to === 'object' && to !== null && (to as Record<string, unknown>).completed === 'collected');
}

/** Counts completed runs and attempts as the stream delivers them. */
export class StreamProgress {
  readonly runsDone = new Set<string>();
  private readonly attemptsDone = new Set<string>();
  /** The largest stream message seen (one appended batch): what comes nearest to max_payload. */
  maxMessageBytes = 0;
  private constructor(private readonly messages: ConsumerMessages) {}

  /** Completed attempts seen so far (each counted once). */
  get tasksDone(): number {
    return this.attemptsDone.size;
  }

  /** Starts reading `stream` from its first message. */
  static async start(nc: NatsConnection, stream = 'MS_EVENTS'): Promise<StreamProgress> {
    const consumer = await jetstream(nc).consumers.get(stream);
    const progress = new StreamProgress(await consumer.consume());
    void progress.read();
    return progress;
  }

  private async read(): Promise<void> {
    const decoder = new TextDecoder();
    for await (const message of this.messages) {
      this.maxMessageBytes = Math.max(this.maxMessageBytes, message.data.length);
      for (const record of JSON.parse(decoder.decode(message.data)) as RecordHead[]) {
        if (record.actor === 'run') {
          if (record.to === 'completed') this.runsDone.add(record.runId);
        } else if (attemptCompleted(record.to)) this.attemptsDone.add(`${record.runId}/${record.actor}`);
      }
    }
  }

  /** Stops reading. */
  stop(): void {
    this.messages.stop();
  }
}
