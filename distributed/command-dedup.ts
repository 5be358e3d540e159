import type { CommandReplyMessage } from '../events/command-messages.ts';

/** The reply a logged command record stands for, or undefined when the record is not a command outcome. */
export function replyOfRecord(record: { seq: number; changes: readonly unknown[] }): CommandReplyMessage | undefined {
  for (const change of record.changes) {
    if (typeof change !== 'object' || change === null) continue;
    const c = change as { kind?: unknown; accepted?: unknown; code?: unknown; reason?: unknown };
    if (c.kind !== 'command') continue;
    if (c.accepted === true) return { accepted: true, seq: record.seq };
    return {
      accepted: false,
      error: { code: typeof c.code === 'string' ? c.code : 'COMMAND_REJECTED', message: typeof c.reason === 'string' ? c.reason : 'rejected' },
    };
  }
  return undefined;
}

/**
 * Answers to commands by command id, for one run, within a time window. Seeded from the run's
 * log when a worker starts hosting it (commands carry their id into the log), so a retry that
 * reaches the next owner after a takeover still gets the first answer.
 */
export class CommandDedup {
  private readonly answers = new Map<string, { reply: CommandReplyMessage; at: number }>();
  private readonly pending = new Map<string, Promise<CommandReplyMessage>>();

  constructor(private readonly windowMs: number) {}

  /** Records the answer a logged command got (if still within the window at `now`). */
  remember(commandId: string, reply: CommandReplyMessage, at: number, now = Date.now()): void {
    if (now - at < this.windowMs && !this.answers.has(commandId)) this.answers.set(commandId, { reply, at });
  }

  /** Runs `execute` once per command id within the window; repeats (even concurrent ones) get the first answer. */
  async once(commandId: string | undefined, execute: () => Promise<CommandReplyMessage>): Promise<CommandReplyMessage> {
    if (commandId === undefined) return execute();
    this.expire();
    const known = this.answers.get(commandId);
    if (known !== undefined) return known.reply;
    const running = this.pending.get(commandId);
    if (running !== undefined) return running;
    const job = execute().then((reply) => {
      this.answers.set(commandId, { reply, at: Date.now() });
      return reply;
    });
    this.pending.set(commandId, job);
    try {
      return await job;
    } finally {
      this.pending.delete(commandId);
    }
  }

  private expire(now = Date.now()): void {
    for (const [id, { at }] of this.answers) {
      if (now - at >= this.windowMs) this.answers.delete(id);
      else break; // insertion order ≈ time order
    }
  }
}
