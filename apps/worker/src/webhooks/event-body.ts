import {
  type CampaignRepository,
  type CampaignState,
  type DeliveryRecord,
  type JobStore,
  campaignEvent,
  jobEvent,
} from '@castforge/core';

/**
 * The event a receiver gets, built when it is first sent from what it is about: the job's status record, or
 * the campaign's final state. Null once that is no longer kept (the delivery is then dead). A delivery keeps
 * the body once an attempt failed, so every later attempt sends the same bytes.
 */
export function createEventBody(deps: {
  jobs: JobStore;
  campaigns: CampaignRepository;
  campaignState: CampaignState;
  signResult: (key: string, expiresAtMs: number) => string;
}) {
  return async (delivery: DeliveryRecord): Promise<string | null> => {
    if (delivery.event.startsWith('job.') && delivery.jobId) {
      const record = await deps.jobs.read(delivery.tenantId, delivery.jobId);
      return record && !record.expired ? JSON.stringify(jobEvent(record, deps.signResult)) : null;
    }
    if (delivery.event === 'campaign.completed' && delivery.campaignId) {
      const [doc, live] = await Promise.all([
        deps.campaigns.get(delivery.tenantId, delivery.campaignId),
        deps.campaignState.read(delivery.tenantId, delivery.campaignId),
      ]);
      return live ? JSON.stringify(campaignEvent(doc, live)) : null;
    }
    return null;
  };
}
