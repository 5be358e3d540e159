import { once } from 'node:events';
import { BY_OPTION, defineCommand, flag, positiveIntegerOption, stringOption, type CommandContext } from '../command.ts';
import { EXIT_CODES } from '../exit-codes.ts';
import { isMatterStackError } from '../../events/errors.ts';
import { natsRunList } from '../nats-list.ts';
import { natsRunWatch } from '../nats-run-watch.ts';
import { natsStatusView } from '../nats-status.ts';
import { natsTarget } from '../nats-target.ts';
import { openStore } from '../open-store.ts';
import { issuer, submitRunCommand } from '../send-run-command.ts';
import type { CommandReply, CommandSender } from '../../web/command-api.ts';
import type { ReadSource } from '../../web/web-server.ts';

/** The NATS user that may only read: its page is read-only whatever the flags say. */
const VIEWER_USER = 'viewer';

/** Sends the page's commands through the CLI's own path (validation, delivery, `by`), as this invocation's user. */
function cliSender(ctx: CommandContext): CommandSender {
  return async (runId, input): Promise<CommandReply> => {
    const { reply } = await submitRunCommand(ctx, runId, input);
    return reply.accepted ? { accepted: true, seq: reply.seq } : { accepted: false, code: reply.code, message: reply.message };
  };
}

/**
 * The log, or for a NATS user refused it (the viewer), the workers: that user's page then shows
 * what a worker tells it (the runs, their tasks), as `list` and `status` do.
 */
async function readSource(ctx: CommandContext): Promise<ReadSource> {
  const nats = natsTarget(ctx);
  try {
    return { store: await openStore(ctx) };
  } catch (error) {
    if (nats === undefined || !isMatterStackError(error) || error.details.reason !== 'permission') throw error;
    return {
      worker: {
        listRuns: (filter) => natsRunList(nats, { all: true, ...filter }),
        runStatus: (runId) => natsStatusView(nats, runId),
        watch: natsRunWatch(nats),
      },
    };
  }
}

/** `ui`: the web view of the runs, served from this process until Ctrl-C. */
export const uiCommand = defineCommand({
  name: 'ui',
  summary: 'serve the web view: runs, DAGs, timelines, history, actions',
  description: [
    'Serves a page (no CDN: the script is bundled here) showing every run, a run\'s DAG coloured by status,',
    'task panels (attempts, logs, results, explain), a timeline, the history with a scrubber (replay --at)',
    'and the campaign state; it updates live from the log. Unless --read-only it sends the same commands',
    'as the CLI (approve, reject, pause, resume, cancel, revive, rerun, cancel-attempt), recorded as --by.',
    'It prints a URL with a random token: every request needs it. Binds 127.0.0.1 unless --host says otherwise.',
    'With --nats the page reads JetStream and acts as the NATS user; the viewer user gets a read-only page that',
    'shows what workers tell it (the runs and their tasks; no history, timeline or logs), loaded again',
    'whenever a run\'s log grows (heard on ms.evt.>, at most twice a second).',
  ].join('\n'),
  group: 'views',
  args: [],
  options: {
    port: { type: 'string', valueName: 'N', description: 'port to listen on (default: a free one)' },
    host: { type: 'string', valueName: 'ADDR', description: 'address to bind (default 127.0.0.1; anything else exposes the page to that network)' },
    'read-only': { type: 'boolean', description: 'no action buttons; the server refuses commands' },
    by: BY_OPTION,
  },
  examples: ['ui', 'ui --port 8080 --read-only', 'ui --nats nats://127.0.0.1:4222 --user scientist'],
  notes: ['Prints one line, the URL to open (with ?token=…), then serves until Ctrl-C.'],
  async run(ctx) {
    const port = positiveIntegerOption(ctx, 'port', { max: 65535 }) ?? 0;
    const host = stringOption(ctx, 'host') ?? '127.0.0.1';
    const nats = natsTarget(ctx);
    const readOnly = flag(ctx, 'read-only') || nats?.user === VIEWER_USER;
    const user = nats?.user ?? issuer(ctx) ?? 'unknown';
    const source = await readSource(ctx);
    const { startWebServer } = await import('../../web/web-server.ts');
    try {
      const server = await startWebServer({
        ...source,
        host,
        port,
        user,
        send: readOnly ? null : cliSender(ctx),
        onError: (error) => ctx.out.note(`error: the live feed stopped: ${error instanceof Error ? error.message : String(error)}`),
      });
      ctx.out.line(server.url);
      if (!ctx.signal.aborted) await once(ctx.signal, 'abort');
      await server.close();
    } finally {
      await source.store?.close();
    }
    return EXIT_CODES.OK;
  },
});
