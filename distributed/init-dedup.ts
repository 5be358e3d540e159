import { createHash } from 'node:crypto';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { CommandReplySchema, type CommandReplyMessage } from '../events/command-messages.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * De-duplication of `ms.cmd.init`, `ms.as.<user>.cmd.init` by command id across workers (any worker of the queue group
 * may get the retry, and there is no run log yet to remember it): a KV bucket whose entries
 * expire after the window. The first worker claims the id (create), executes, stores the reply;
 * a repeat waits for that reply.
 */
export class InitDedup {
  private constructor(private readonly kv: KV) {}

  /** Opens (creating if missing) the bucket, with `replicas` copies when it creates it. */
  static async open(nc: NatsConnection, windowMs: number, bucket = 'MS_CMD_INIT', replicas = 1): Promise<InitDedup> {
    return new InitDedup(await new Kvm(nc).create(bucket, { ttl: windowMs, history: 1, replicas }));
  }

  /** Runs `execute` once per command id; repeats get the first reply (waiting up to `waitMs` while it runs). */
  async once(commandId: string | undefined, execute: () => Promise<CommandReplyMessage>, waitMs = 30_000): Promise<CommandReplyMessage> {
    if (commandId === undefined) return execute();
    const key = createHash('sha256').update(commandId).digest('hex').slice(0, 40);
    let revision: number;
    try {
      revision = await this.kv.create(key, encoder.encode('{}'));
    } catch {
      // The key exists: another request with this command id runs (or ran) the init; its reply is the answer.
      return this.waitForReply(key, waitMs);
    }
    const reply = await execute();
    // Remembering the reply is best effort: the init has run and its reply reaches this caller either way.
    await this.kv.update(key, encoder.encode(JSON.stringify(reply)), revision).catch(() => undefined);
    return reply;
  }

  private async waitForReply(key: string, waitMs: number): Promise<CommandReplyMessage> {
    const deadline = Date.now() + waitMs;
    while (Date.now() < deadline) {
      const entry = await this.kv.get(key);
      if (entry !== null && entry.operation === 'PUT') {
        const parsed = CommandReplySchema.safeParse(JSON.parse(decoder.decode(entry.value)));
        if (parsed.success) return parsed.data;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return { accepted: false, error: { code: 'LOG_UNAVAILABLE', message: 'the same init command is still running elsewhere; retry later' } };
  }
}
