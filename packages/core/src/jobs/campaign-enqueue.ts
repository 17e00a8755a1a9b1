import { randomBytes } from 'node:crypto';
import { GENERATE_JOB_NAME } from '@castforge/schemas';
import { Job } from 'bullmq';
import { type ChainableCommander } from 'ioredis';
import { type Logger } from '../logging/logger';
import { type CampaignState } from './campaign-state';
import { type RedisKeys, bullPriority, campaignLaneFor } from './keys';
import { type LaneQueues } from './lane-queues';

/** Jobs added per pipeline: big enough to be fast, small enough never to hold Redis up. */
export const ENQUEUE_CHUNK = 1000;

/** How every generation job is retried: the same for single jobs and campaign jobs, whoever enqueues them. */
export interface JobRetryOptions {
  attempts: number;
  backoffMs: number;
}

export const bullJobOptions = (jobId: string, priority: number, retry: JobRetryOptions) => ({
  jobId,
  attempts: retry.attempts,
  backoff: { type: 'exponential', delay: retry.backoffMs, jitter: 0.5 },
  // The status record is the history; BullMQ keeps nothing of a finished job (zero data retention).
  removeOnComplete: true,
  removeOnFail: true,
  ...(priority > 0 && { priority: bullPriority(priority) }),
});

/**
 * Enqueues a campaign's jobs, chunk by chunk, under the campaign's enqueue lease: one process at a time, and a
 * process that dies (or whose Redis replies come too late) is taken over by another from the cursor. A chunk
 * added twice is harmless: job ids are derived from (campaign, index), so BullMQ ignores a known id and START
 * ignores a job that already ended. Each job carries only `{campaign, index}`.
 */
export function createCampaignEnqueuer(deps: {
  keys: RedisKeys;
  state: CampaignState;
  queues: LaneQueues;
  retry: JobRetryOptions;
  logger: Logger;
}) {
  const enqueueFrom = async (
    tenantId: string,
    campaignId: string,
    owner: string,
    from: number,
  ): Promise<boolean> => {
    const live = await deps.state.read(tenantId, campaignId);
    if (!live) return false;
    const lane = campaignLaneFor(tenantId);
    const bucket = deps.keys.forTenant(tenantId).bucket;
    const queue = deps.queues.get(bucket, lane);
    const release = deps.queues.hold(bucket, lane);
    try {
      const client = await queue.getBackend().client;
      for (let first = from; first < live.jobCount; first += ENQUEUE_CHUNK) {
        const count = Math.min(ENQUEUE_CHUNK, live.jobCount - first);
        const ids = deps.state.jobIds(campaignId, first, count);
        const kept = await deps.state.enqueueChunk(tenantId, { campaignId, lane }, owner, first + count, {
          // BullMQ wraps our client; its pipelines carry our scripts and BullMQ's alike.
          pipeline: () => Promise.resolve(client.pipeline() as unknown as ChainableCommander),
          add: (pipeline) => {
            ids.forEach((jobId, offset) => {
              const job = new Job(
                queue,
                GENERATE_JOB_NAME,
                { kind: 'campaign', c: campaignId, i: first + offset },
                bullJobOptions(jobId, live.priority, deps.retry),
                jobId,
              );
              void job.addJob(pipeline as never);
            });
          },
        });
        if (!kept) {
          deps.logger.warn({ campaign_id: campaignId }, 'another process took over enqueuing this campaign');
          return false;
        }
      }
      return true;
    } finally {
      release();
    }
  };

  return {
    newOwner: () => `enq_${randomBytes(8).toString('hex')}`,
    /** Enqueues every job of a campaign this process has just created (it holds the lease). */
    enqueue: (tenantId: string, campaignId: string, owner: string) =>
      enqueueFrom(tenantId, campaignId, owner, 0),

    /** Takes over and finishes the campaigns whose enqueuer stopped. Safe to run in every process. */
    async resumeStalled(): Promise<number> {
      let resumed = 0;
      for (const { bucket, campaignId } of await deps.state.stalledEnqueues()) {
        const tenantId = await deps.state.tenantOf(bucket, campaignId);
        if (!tenantId) continue;
        const owner = `enq_${randomBytes(8).toString('hex')}`;
        const cursor = await deps.state.takeover(tenantId, campaignId, owner);
        if (cursor === null) continue;
        // The last chunk may have been added without its cursor moving: add it again (a no-op for known ids).
        const from = Math.max(0, Math.floor((cursor - 1) / ENQUEUE_CHUNK) * ENQUEUE_CHUNK);
        if (await enqueueFrom(tenantId, campaignId, owner, Math.min(from, cursor))) {
          resumed += 1;
          deps.logger.info({ campaign_id: campaignId }, 'finished enqueuing an interrupted campaign');
        }
      }
      return resumed;
    },
  };
}
export type CampaignEnqueuer = ReturnType<typeof createCampaignEnqueuer>;
