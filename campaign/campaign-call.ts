import { Worker } from 'node:worker_threads';
import { MatterStackError } from '../events/errors.ts';
import type { JsonValue } from '../events/json.ts';
import type { AnyCampaign } from './campaign.ts';
import { answerCampaignRequest, campaignError } from './campaign-module.ts';
import { CampaignReplySchema, type CampaignMethod, type CampaignReply, type CampaignRequest } from './campaign-protocol.ts';
import type { CampaignWorkerData } from './campaign-worker.ts';
import { SerialQueue } from '../events/serial-queue.ts';

/** How long one plan/analyze call may take unless configured (10 minutes). */
export const DEFAULT_CAMPAIGN_TIMEOUT_MS = 600_000;
/** Loading gets at least this long: starting a worker and tsx is the host's cost, slow on a busy machine. */
const LOAD_TIMEOUT_FLOOR_MS = 30_000;
const TIMEOUT_ENV = 'MATTERSTACK_CAMPAIGN_TIMEOUT_MS';

/** A request before it gets its id. */
export type CampaignCall = CampaignRequest extends infer R ? (R extends CampaignRequest ? Omit<R, 'id'> : never) : never;

/**
 * The timeout of a campaign call: `explicit`, else MATTERSTACK_CAMPAIGN_TIMEOUT_MS, else the
 * workspace's `campaign.timeout_seconds` (`configured`, in ms), else 10 minutes.
 */
export function campaignTimeoutMs(explicit?: number, configured?: number): number {
  if (explicit !== undefined) return positiveMs(explicit, 'campaignTimeoutMs');
  const raw = process.env[TIMEOUT_ENV];
  if (raw === undefined || raw === '') return configured ?? DEFAULT_CAMPAIGN_TIMEOUT_MS;
  return positiveMs(/^\d+$/.test(raw) ? Number(raw) : Number.NaN, TIMEOUT_ENV, raw);
}

function positiveMs(value: number, field: string, raw: unknown = value): number {
  if (Number.isSafeInteger(value) && value > 0) return value;
  throw new MatterStackError('VALIDATION_FAILED', `${field} must be a positive integer (milliseconds), got ${JSON.stringify(raw)}`, { field });
}

/** CAMPAIGN_TIMEOUT for a call past its limit; `why` guesses the cause for the reader. */
export function timeoutError(name: string, method: CampaignMethod, ms: number, why = 'an endless loop or a promise that never settles?'): MatterStackError {
  return new MatterStackError(
    'CAMPAIGN_TIMEOUT',
    `campaign ${name}: ${method} did not return within ${ms} ms (${why}); the limit is ${TIMEOUT_ENV} or campaign.timeout_seconds in operators.yaml`,
    { campaign: name, method, timeoutMs: ms },
  );
}

/** The value of a reply, or its failure as a MatterStackError. */
function valueOf(reply: CampaignReply): JsonValue {
  if (!reply.ok) throw new MatterStackError(reply.code, reply.message);
  return reply.value as JsonValue;
}

/**
 * Campaign code in a worker thread, kept warm for the calls of one run (starting one costs about
 * 130 ms with tsx, a call about 0.1 ms). A call that does not answer within the timeout — a
 * synchronous endless loop included — ends the worker and fails with CAMPAIGN_TIMEOUT; a worker
 * that dies fails its call with CAMPAIGN_ERROR. Either way the next call starts a new worker, and
 * the host's own event loop never ran campaign code. Calls are answered one at a time.
 */
export class CampaignWorker {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly queue = new SerialQueue();

  constructor(
    private readonly name: string,
    private readonly href: string,
    private readonly timeoutMs: number,
  ) {}

  /** Calls the campaign; resolves with the JSON the call returned. */
  call(request: CampaignCall): Promise<JsonValue> {
    return this.queue.run(() => this.exchange({ ...request, id: this.nextId++ } as CampaignRequest)).then(valueOf);
  }

  /** Ends the worker (the next call would start another). */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  private spawn(): Worker {
    const data: CampaignWorkerData = { entry: new URL('./campaign-worker.ts', import.meta.url).href, name: this.name, href: this.href };
    // No inherited flags: the boot file registers the loader the worker needs.
    const worker = new Worker(new URL('./campaign-worker-boot.mjs', import.meta.url), { execArgv: [], workerData: data });
    worker.unref();
    // Campaign code may throw between calls (a timer of its own): the worker dies, not the host,
    // and the next call starts another. A call's own listeners report what happens during it.
    worker.on('error', () => undefined);
    worker.once('exit', () => {
      if (this.worker === worker) this.worker = undefined;
    });
    return worker;
  }

  private exchange(request: CampaignRequest): Promise<CampaignReply> {
    const worker = (this.worker ??= this.spawn());
    return new Promise<CampaignReply>((resolve, reject) => {
      const finish = (): void => {
        clearTimeout(timer);
        worker.off('message', onMessage).off('error', onError).off('exit', onExit);
        worker.unref();
      };
      const abandon = (error: MatterStackError): void => {
        finish();
        if (this.worker === worker) this.worker = undefined;
        void worker.terminate();
        reject(error);
      };
      const onMessage = (text: unknown): void => {
        const parsed = CampaignReplySchema.safeParse(parseJsonText(text));
        if (!parsed.success) return abandon(campaignError(this.name, `${request.method} failed: the campaign answered outside the protocol`));
        if (parsed.data.id !== request.id) return;
        finish();
        resolve(parsed.data);
      };
      const onError = (error: Error): void => abandon(campaignError(this.name, `${request.method} failed: the campaign worker stopped: ${error.message}`, error));
      const onExit = (code: number): void => abandon(campaignError(this.name, `${request.method} failed: the campaign worker exited (code ${code})`));
      const ms = request.method === 'load' ? Math.max(this.timeoutMs, LOAD_TIMEOUT_FLOOR_MS) : this.timeoutMs;
      const timer = setTimeout(() => abandon(timeoutError(this.name, request.method, ms)), ms);
      worker.on('message', onMessage).on('error', onError).on('exit', onExit);
      // Referenced while a call is out, so the process waits for its answer (or its timeout).
      worker.ref();
      worker.postMessage(JSON.stringify(request));
    });
  }
}

/** A reply's JSON text parsed, or undefined (which the reply schema then refuses). */
function parseJsonText(text: unknown): unknown {
  try {
    return typeof text === 'string' ? JSON.parse(text) : undefined;
  } catch {
    // Not JSON: undefined is what the reply schema refuses, naming the reply as malformed.
    return undefined;
  }
}

/**
 * Calls an in-process campaign (an object handed to the library API: it cannot move to another
 * thread). A promise that never settles fails after the timeout with CAMPAIGN_TIMEOUT; a
 * synchronous endless loop cannot be stopped here — campaigns loaded from a workspace run in a
 * CampaignWorker for that reason.
 */
export async function callInProcess(name: string, campaign: AnyCampaign, request: CampaignCall, timeoutMs: number): Promise<JsonValue> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timeoutError(name, request.method, timeoutMs)), timeoutMs);
  });
  try {
    return valueOf(await Promise.race([answerCampaignRequest(name, campaign, { ...request, id: 0 } as CampaignRequest), timeout]));
  } finally {
    clearTimeout(timer);
  }
}
