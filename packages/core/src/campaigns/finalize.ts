import { AppError } from '../errors';
import { type CampaignState } from '../jobs/campaign-state';
import { type WebhookOutbox } from '../webhooks/outbox';
import { type CampaignRepository } from './campaign.repository';
import { campaignStatus } from './campaign-view';

/**
 * Runs for every campaign whose last job ended (the script that ended it recorded that in the outbox, once),
 * and is safe to run again: records the outcome in MongoDB and records `campaign.completed` for delivery.
 * Its live state in Redis is forgotten later, once its results have expired (the scripts scheduled that).
 */
export function createCampaignFinalizer(deps: {
  campaigns: CampaignRepository;
  state: CampaignState;
  outbox: WebhookOutbox;
}) {
  return async (tenantId: string, campaignId: string): Promise<void> => {
    const [doc, live] = await Promise.all([
      deps.campaigns.get(tenantId, campaignId).catch((err: unknown) => {
        // Never recorded in MongoDB (it was refused there, its Redis state is a leftover): nothing to finalize.
        if (err instanceof AppError && err.code === 'NOT_FOUND') return null;
        throw err;
      }),
      deps.state.read(tenantId, campaignId),
    ]);
    if (!live || !doc) return;
    const status = campaignStatus(live.counts, doc.job_count, live.cancelled);
    await deps.campaigns.finish(
      tenantId,
      campaignId,
      status,
      live.counts,
      new Date(live.finishedAt ?? Date.now()),
    );
    if (doc.callback_url) {
      await deps.outbox.ensure({
        tenantId,
        event: 'campaign.completed',
        campaignId,
        sealedUrl: doc.callback_url,
      });
    }
  };
}
export type CampaignFinalizer = ReturnType<typeof createCampaignFinalizer>;
