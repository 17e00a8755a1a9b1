import {
  type Campaign,
  type CampaignCounts,
  type CampaignEvent,
  type CampaignStatusName,
} from '@castforge/schemas';
import { type CampaignLive } from '../jobs/campaign-state';
import { type Rates, secondsFor } from '../jobs/estimates';
import { type CampaignDoc } from './campaign.model';

/** `running` until every job has ended; then how it ended. */
export function campaignStatus(
  counts: CampaignCounts,
  jobCount: number,
  cancelled: boolean,
): CampaignStatusName {
  const ended = counts.completed + counts.failed + counts.cancelled;
  if (cancelled) return ended >= jobCount ? 'cancelled' : 'running';
  if (ended < jobCount) return 'running';
  return counts.failed + counts.cancelled > 0 ? 'completed_with_failures' : 'completed';
}

const NO_COUNTS: CampaignCounts = {
  queued: 0,
  pending: 0,
  processing: 0,
  completed: 0,
  failed: 0,
  cancelled: 0,
};

type Summary = Pick<
  CampaignLive,
  | 'campaignId'
  | 'name'
  | 'jobCount'
  | 'profileCount'
  | 'sceneCount'
  | 'variants'
  | 'priority'
  | 'metadata'
  | 'counts'
  | 'createdAt'
  | 'finishedAt'
> & { status: CampaignStatusName };

const fromLive = (live: CampaignLive): Summary => ({
  ...live,
  status: campaignStatus(live.counts, live.jobCount, live.cancelled),
});

const fromDoc = (doc: CampaignDoc): Summary => ({
  campaignId: doc.campaign_id,
  name: doc.name,
  jobCount: doc.job_count,
  profileCount: doc.profile_count,
  sceneCount: doc.scene_count,
  variants: doc.variants,
  priority: doc.priority,
  metadata: doc.metadata,
  counts: doc.counts ?? NO_COUNTS,
  createdAt: doc.created_at.getTime(),
  finishedAt: doc.finished_at?.getTime() ?? null,
  status: doc.status,
});

/**
 * The SPEC §7 view of a campaign: while it is live, from its Redis hash alone (one read whatever its size);
 * once that state has been forgotten, from its final record in MongoDB. `rates` come from recently measured
 * inferences, for the ETA.
 */
export function toCampaign(source: { live: CampaignLive } | { doc: CampaignDoc }, rates: Rates): Campaign {
  const live = 'live' in source ? source.live : null;
  const s = 'live' in source ? fromLive(source.live) : fromDoc(source.doc);
  const ended = s.counts.completed + s.counts.failed + s.counts.cancelled;
  const remaining = Math.max(0, s.jobCount - ended);
  return {
    campaign_id: s.campaignId,
    name: s.name,
    status: s.status,
    job_count: s.jobCount,
    profile_count: s.profileCount,
    scene_count: s.sceneCount,
    variants: s.variants,
    priority: s.priority,
    counts: s.counts,
    progress: s.jobCount ? Math.round((1000 * ended) / s.jobCount) / 10 : 100,
    eta_seconds: s.status === 'running' && live ? secondsFor(rates, live.unitsPerJob, remaining) : null,
    metadata: s.metadata,
    created_at: new Date(s.createdAt).toISOString(),
    finished_at:
      s.status === 'running' || s.finishedAt === null ? null : new Date(s.finishedAt).toISOString(),
  };
}

export function campaignEvent(doc: CampaignDoc, live: CampaignLive): CampaignEvent {
  const status = campaignStatus(live.counts, doc.job_count, live.cancelled);
  return {
    event: 'campaign.completed',
    campaign_id: doc.campaign_id,
    tenant_id: doc.tenant_id,
    status: status === 'running' ? 'completed' : status,
    job_count: doc.job_count,
    counts: live.counts,
    timestamp: Math.floor((live.finishedAt ?? Date.now()) / 1000),
    metadata: doc.metadata,
  };
}
