import {
  type CampaignState,
  createCampaignEnqueuer,
  createCampaignRepository,
  createCampaignState,
  createEstimator,
  createSealer,
  createUrlGuard,
  serverSecret,
} from '@castforge/core';
import { createCampaignService } from '../../apps/api/src/campaigns/campaigns.service';
import { type ApiHarness } from './api';

/**
 * The API's campaign service and enqueuer, built as apps/api deps.ts builds them on the test API's Redis and
 * MongoDB, but over a campaign state of the test's choosing: the real one (`realState`), or one with a seam
 * wrapped to pause or fail where a slow or dying process, or a lost Redis reply, would.
 */
export async function campaignServiceKit(api: ApiHarness) {
  const realState = createCampaignState({
    redis: api.services.redis,
    keys: api.deps.jobs.keys,
    ids: api.deps.jobs.ids,
    retentionSeconds: api.deps.config.RESULT_TTL_SECONDS,
  });
  const sealer = createSealer(await serverSecret(api.services.mongo, 'url-sealing'));
  const enqueuerWith = (state: CampaignState) =>
    createCampaignEnqueuer({
      keys: api.deps.jobs.keys,
      state,
      queues: api.deps.queues,
      retry: { attempts: api.deps.config.JOB_ATTEMPTS, backoffMs: api.deps.config.JOB_BACKOFF_MS },
      logger: api.services.logger,
    });
  const serviceWith = (state: CampaignState) =>
    createCampaignService({
      campaigns: createCampaignRepository(api.services.mongo),
      state,
      enqueuer: enqueuerWith(state),
      jobs: api.deps.jobs,
      view: api.deps.view,
      profiles: api.deps.profiles,
      estimator: createEstimator(api.services.redis, api.deps.jobs.keys),
      urlGuard: createUrlGuard({ allowLoopback: false }),
      inputGuard: createUrlGuard({ allowLoopback: true }),
      capabilities: api.deps.capabilities,
      sealer,
      maxJobs: 100_000,
      maxJobsInFlight: 0,
      backendDefaults: { steps: 20, guidance: 7 },
      logger: api.services.logger,
    });
  return { realState, enqueuerWith, serviceWith };
}
