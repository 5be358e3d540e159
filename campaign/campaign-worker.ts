import { parentPort, workerData } from 'node:worker_threads';
import type { Campaign } from './campaign.ts';
import { answerCampaignRequest, campaignError, importCampaign } from './campaign-module.ts';
import type { CampaignReply, CampaignRequest } from './campaign-protocol.ts';

/** What the host hands a campaign worker (campaign-call.ts). */
export interface CampaignWorkerData {
  entry: string;
  name: string;
  /** file: URL of the campaign module. */
  href: string;
}

// Runs in a worker thread: one campaign, one request at a time, JSON text in and out.
const { name, href } = workerData as CampaignWorkerData;
const port = parentPort!;
let campaign: Campaign | undefined;
let strays: unknown[] = [];

// A promise the campaign let reject unhandled fails the call it happened in (between calls: the
// next one), not the host.
process.on('unhandledRejection', (reason) => {
  strays.push(reason);
});

async function answer(request: CampaignRequest): Promise<CampaignReply> {
  try {
    campaign ??= await importCampaign(name, href);
  } catch (error) {
    return { id: request.id, ok: false, code: 'CAMPAIGN_ERROR', message: (error as Error).message };
  }
  return answerCampaignRequest(name, campaign, request);
}

port.on('message', (text: string) => {
  const request = JSON.parse(text) as CampaignRequest;
  void answer(request).then(async (reply) => {
    // Rejections are reported once the microtasks of the call have run: wait one turn for them.
    await new Promise((resolve) => setImmediate(resolve));
    const [stray] = strays;
    strays = [];
    const answered: CampaignReply =
      stray === undefined
        ? reply
        : { id: request.id, ok: false, code: 'CAMPAIGN_ERROR', message: campaignError(name, `${request.method} failed: unhandled rejection in campaign code: ${(stray as Error)?.message ?? String(stray)}`).message };
    port.postMessage(JSON.stringify(answered));
  });
});
