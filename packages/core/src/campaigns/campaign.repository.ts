import { type CampaignCounts, type CampaignStatusName } from '@castforge/schemas';
import { type Connection } from 'mongoose';
import { AppError } from '../errors';
import { pageNewestFirst } from '../mongo/newest-first';
import { type CampaignDoc, type CampaignSpecDoc, campaignModels } from './campaign.model';

const notFound = (campaignId: string) => new AppError('NOT_FOUND', `campaign ${campaignId} not found`);

/**
 * Campaigns in MongoDB: a small document per campaign (what is listed and viewed, and its outcome) and its
 * spec (the profile versions it pinned and its scenes), kept apart so views never carry the roster.
 */
export function createCampaignRepository(connection: Connection) {
  const { Campaign, CampaignSpec } = campaignModels(connection);
  const specs = new Map<string, Promise<CampaignSpecDoc | null>>();

  const findSpec = (tenantId: string, campaignId: string) =>
    CampaignSpec.findOne({ tenant_id: tenantId, campaign_id: campaignId }, { _id: 0 })
      .lean<CampaignSpecDoc>()
      .exec();

  return {
    /** The spec first: a campaign document never exists without what it runs. */
    async insert(doc: CampaignDoc, spec: CampaignSpecDoc): Promise<void> {
      await CampaignSpec.create(spec);
      await Campaign.create(doc);
    },

    async markEnqueued(campaignId: string): Promise<void> {
      await Campaign.updateOne({ campaign_id: campaignId }, { $set: { state: 'enqueued' } });
    },

    async remove(tenantId: string, campaignId: string): Promise<void> {
      await Campaign.deleteOne({ tenant_id: tenantId, campaign_id: campaignId });
      await CampaignSpec.deleteOne({ tenant_id: tenantId, campaign_id: campaignId });
    },

    async get(tenantId: string, campaignId: string): Promise<CampaignDoc> {
      const doc = await Campaign.findOne(
        { tenant_id: tenantId, campaign_id: campaignId },
        { _id: 0 },
      ).lean<CampaignDoc>();
      if (!doc) throw notFound(campaignId);
      return doc;
    },

    /**
     * What a worker needs to run a campaign's jobs. The spec never changes, so each process reads a
     * campaign from MongoDB once, however many of its jobs it runs.
     */
    spec(tenantId: string, campaignId: string): Promise<CampaignSpecDoc | null> {
      const key = `${tenantId}\u0000${campaignId}`;
      let loading = specs.get(key);
      if (!loading) {
        loading = findSpec(tenantId, campaignId);
        specs.set(key, loading);
        loading.catch(() => specs.delete(key));
        if (specs.size > 1000) specs.delete(specs.keys().next().value!);
      }
      return loading;
    },

    list(tenantId: string, query: { limit: number; cursor?: string }) {
      return pageNewestFirst<CampaignDoc>(Campaign, {
        filter: { tenant_id: tenantId },
        idField: 'campaign_id',
        limit: query.limit,
        cursor: query.cursor,
      });
    },

    /** Campaigns whose jobs were not all enqueued (the API stopped in the middle). */
    async unfinishedEnqueues(): Promise<CampaignDoc[]> {
      return Campaign.find({ state: 'enqueuing' }, { _id: 0 }).lean<CampaignDoc[]>();
    },

    /** The outcome, and the roster's input image URLs forgotten: once every job has ended none needs them. */
    async finish(
      tenantId: string,
      campaignId: string,
      status: CampaignStatusName,
      counts: CampaignCounts,
      finishedAt: Date,
    ): Promise<void> {
      const which = { tenant_id: tenantId, campaign_id: campaignId };
      await Campaign.updateOne(which, { $set: { status, counts, finished_at: finishedAt } });
      await CampaignSpec.updateOne(which, { $unset: { roster_images: 1 } });
    },

    ensureIndexes: async () => {
      await Campaign.createIndexes();
      await CampaignSpec.createIndexes();
    },
  };
}
export type CampaignRepository = ReturnType<typeof createCampaignRepository>;
