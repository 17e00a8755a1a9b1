import { type Redis } from 'ioredis';
import { type CampaignState } from '../jobs/campaign-state';
import { type RedisKeys } from '../jobs/keys';
import { type WebhookOutbox } from '../webhooks/outbox';
import { type CampaignRepository } from './campaign.repository';
import { campaignEvent, campaignStatus } from './campaign-view';

/**
 * Runs once per campaign, by whichever process ended its last job (the scripts say which): records the
 * outcome in MongoDB, sends `campaign.completed` to its callback URL, and schedules its live state in Redis
 * to be forgotten once its results have expired.
 */
export function createCampaignFinalizer(deps: {
  redis: Redis;
  keys: RedisKeys;
  campaigns: CampaignRepository;
  state: CampaignState;
  outbox: WebhookOutbox;
  retentionSeconds: number;
}) {
  return async (tenantId: string, campaignId: string): Promise<void> => {
    const [doc, live] = await Promise.all([
      deps.campaigns.get(tenantId, campaignId),
      deps.state.read(campaignId),
    ]);
    if (!live) return;
    const status = campaignStatus(live.counts, doc.job_count, live.cancelled);
    await deps.campaigns.finish(campaignId, status, live.counts, new Date(live.finishedAt ?? Date.now()));
    if (doc.callback_url) {
      await deps.outbox.enqueue({ tenantId, sealedUrl: doc.callback_url, event: campaignEvent(doc, live) });
    }
    await deps.redis.zadd(deps.keys.campaignsToForget, Date.now() + deps.retentionSeconds * 1000, campaignId);
  };
}
export type CampaignFinalizer = ReturnType<typeof createCampaignFinalizer>;
