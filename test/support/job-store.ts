import { randomBytes } from 'node:crypto';
import {
  type CampaignSetup,
  type CampaignState,
  type JobStore,
  type LaneQueues,
  type Redis,
  bullJobOptions,
  bullPriority,
  campaignLaneFor,
  createCampaignIds,
  createCampaignState,
  createJobStore,
  createLaneQueues,
  laneFor,
  newJobId,
  redisKeys,
} from '@castforge/core';
import { GENERATE_JOB_NAME, type JobPayload } from '@castforge/schemas';
import { Job } from 'bullmq';

export const STORE_RETENTION_SECONDS = 600;

export interface JobStoreKit {
  redis: Redis;
  prefix: string;
  keys: ReturnType<typeof redisKeys>;
  store: JobStore;
  state: CampaignState;
  queues: LaneQueues;
  /**
   * Submits a single job as the API's producer does: the CREATE script and BullMQ's add in one MULTI on the
   * connection BullMQ uses. Returns the job id and where it stands.
   */
  submit(
    tenantId: string,
    options?: {
      jobId?: string;
      priority?: number;
      maxInFlight?: number;
      fields?: Record<string, string | number | undefined>;
    },
  ): Promise<{ jobId: string; seq: number; ahead: number }>;
  /** Records a waiting campaign of `jobCount` jobs (one profile, `jobCount` scenes); no BullMQ job is added. */
  campaign(
    tenantId: string,
    jobCount: number,
    extra?: Partial<CampaignSetup>,
  ): Promise<{ campaignId: string; jobIds: string[] }>;
  close(): Promise<void>;
}

/**
 * A job store, campaign state and lane queues on `redis` under `prefix`, wired as the API wires them
 * (packages/core only: no HTTP). For unit tests of the scripts against a real Redis.
 */
export function jobStoreKit(redis: Redis, prefix: string, buckets = 16): JobStoreKit {
  const keys = redisKeys(prefix, buckets);
  const ids = createCampaignIds(randomBytes(32).toString('hex'));
  const store = createJobStore({ redis, keys, ids, retentionSeconds: STORE_RETENTION_SECONDS });
  const state = createCampaignState({ redis, keys, ids, retentionSeconds: STORE_RETENTION_SECONDS });
  const queues = createLaneQueues({ redis, keys });
  return {
    redis,
    prefix,
    keys,
    store,
    state,
    queues,
    async submit(tenantId, options = {}) {
      const jobId = options.jobId ?? newJobId();
      const priority = options.priority ?? 0;
      const lane = laneFor(tenantId, priority);
      const queue = queues.get(keys.forTenant(tenantId).bucket, lane);
      const payload: JobPayload = { kind: 'single', op: 'generate', request: { prompt: 'a lighthouse' } };
      const { seq, ahead } = await store.submit(
        {
          jobId,
          tenantId,
          lane,
          orderBase: priority ? bullPriority(priority) * 1e12 : 0,
          fields: { op: 'generate', lane, queued_at: Date.now(), units: 1, ...options.fields },
        },
        options.maxInFlight ?? 0,
        {
          transaction: () => queues.transaction(queue),
          add: (multi) => {
            void new Job(
              queue,
              GENERATE_JOB_NAME,
              payload,
              bullJobOptions(jobId, priority, { attempts: 3, backoffMs: 1000 }),
              jobId,
            ).addJob(multi as never);
          },
        },
      );
      return { jobId, seq, ahead };
    },
    async campaign(tenantId, jobCount, extra = {}) {
      const campaignId = ids.campaignId(await state.nextNumber());
      await state.create(
        {
          campaignId,
          tenantId,
          name: 'unit',
          operation: 'generate',
          priority: 0,
          lane: campaignLaneFor(tenantId),
          jobCount,
          perProfile: jobCount,
          variants: 1,
          profiles: ['prof_0123456789abcdef:1'],
          sceneMetadata: Array.from({ length: jobCount }, () => ''),
          metadata: null,
          sealedCallbackUrl: null,
          unitsPerJob: 1,
          ...extra,
        },
        0,
        `enq_test_${campaignId}`,
      );
      return { campaignId, jobIds: state.jobIds(campaignId, 0, jobCount) };
    },
    close: () => queues.close(),
  };
}
