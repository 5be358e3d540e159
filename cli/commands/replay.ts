import { defineCommand, flag, positiveIntegerOption, requiredArg, stringOption, type CommandContext } from '../command.ts';
import { EXIT_CODES } from '../exit-codes.ts';
import { withRun } from '../open-store.ts';

/** A positive sequence number from an option, or a usage error naming the option. */
function seqOption(ctx: CommandContext, name: string): number | undefined {
  return positiveIntegerOption(ctx, name, { note: '(a log sequence)' });
}

/** `replay <run>`: the event timeline, the state at a sequence, or a verification of the log against the machines. */
export const replayCommand = defineCommand({
  name: 'replay',
  summary: 'the event timeline of a run; --at shows the state at a sequence; --verify checks the log',
  description: [
    'Walks the run\'s log: one line per transition (sequence, time, actor, event, from → to, what',
    'changed); each cycle (a RUN.STEP, or a new workflow) also shows its four phases and what each did:',
    'poll (reports applied), plan (tasks skipped), execute (attempts dispatched), analyze (outcome, or',
    'the campaign asked). --actor keeps one actor ("run", an attempt id, or a task id for all its attempts),',
    '--type one event type or a prefix ("CMD.", "ATTEMPT."). --at N prints the state after event N.',
    '--verify re-runs every event through the current machines and reports the first one whose',
    'logged state differs (a changed or non-deterministic machine), with the version that wrote it; it exits non-zero then.',
    'A "-- written by MatterStack <version> (machines <hash>) --" line opens the records each writer of the run',
    'appended (HOST.VERSION records; --json: every entry\'s writtenBy).',
  ].join('\n'),
  group: 'views',
  args: [{ name: 'run', required: true, description: 'the run id' }],
  options: {
    at: { type: 'string', valueName: 'SEQ', description: 'print the state after this sequence' },
    actor: { type: 'string', valueName: 'ACTOR', description: 'only this actor (run, an attempt id, or a task id)' },
    type: { type: 'string', valueName: 'TYPE', description: 'only this event type, or a prefix ending in "."' },
    from: { type: 'string', valueName: 'SEQ', description: 'start at this sequence' },
    to: { type: 'string', valueName: 'SEQ', description: 'stop at this sequence' },
    verify: { type: 'boolean', description: 're-run the log through the current machines; exit 9 on divergence' },
  },
  examples: ['replay r1', 'replay r1 --actor make --type OPERATOR.', 'replay r1 --at 12', 'replay r1 --verify'],
  notes: [
    'Exit codes: 0, or 9 when --verify finds a divergence.',
    '--json prints the timeline entries, the state, or the verification result, with every value whole (the text\noutput folds long values with "…" and says so).',
  ],
  async run(ctx) {
    const views = await import('../../views/index.ts');
    const at = seqOption(ctx, 'at');
    const fromSeq = seqOption(ctx, 'from');
    const toSeq = seqOption(ctx, 'to');
    return withRun(ctx, requiredArg(ctx, 'run'), async (handle) => {
      const { log } = handle.store;
      if (flag(ctx, 'verify')) {
        const result = await views.verifyReplay(log, handle.runId);
        if (ctx.global.json) ctx.out.data(result);
        else ctx.out.write(views.formatVerifyResult(result));
        return result.ok ? EXIT_CODES.OK : EXIT_CODES.REPLAY_DIVERGED;
      }
      if (at !== undefined) {
        const state = await views.stateAt(log, handle.runId, at);
        if (ctx.global.json) ctx.out.data(state);
        else ctx.out.write(views.formatStateAt(state));
        return EXIT_CODES.OK;
      }
      const actor = stringOption(ctx, 'actor');
      const type = stringOption(ctx, 'type');
      const entries = await views.replayTimeline(log, handle.runId, {
        ...(actor !== undefined ? { actor } : {}),
        ...(type !== undefined ? { type } : {}),
        ...(fromSeq !== undefined ? { fromSeq } : {}),
        ...(toSeq !== undefined ? { toSeq } : {}),
      }, { whole: ctx.global.json });
      if (ctx.global.json) ctx.out.data(entries);
      else ctx.out.write(views.formatTimeline(entries, handle.runId));
      return EXIT_CODES.OK;
    });
  },
});
