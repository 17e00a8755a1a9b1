import {
  GENERATE_JOB_NAME,
  type JobPayload,
  type Logger,
  type RedisKeys,
  bullPriority,
} from '@castforge/core';
import { Job, Queue } from 'bullmq';
import { type Redis } from 'ioredis';

/**
 * BullMQ producers, one Queue object per lane (tenant × priority), created on first use and sharing the
 * API's fail-fast Redis connection, so an add during a Redis outage fails at once (→ 503).
 */
export function createQueues(deps: {
  redis: Redis;
  keys: RedisKeys;
  logger: Logger;
  attempts: number;
  backoffMs: number;
}) {
  const queues = new Map<string, Queue>();
  const queueFor = (lane: string) => {
    let queue = queues.get(lane);
    if (!queue) {
      queue = new Queue(lane, { connection: deps.redis, prefix: deps.keys.bullPrefix });
      queue.on('error', (err) => deps.logger.warn({ lane, err: err.message }, 'queue error'));
      queues.set(lane, queue);
    }
    return queue;
  };

  /** Retries back off exponentially with jitter; the first retry comes after about `backoffMs`. */
  const options = (jobId: string, priority: number) => ({
    jobId,
    attempts: deps.attempts,
    backoff: { type: 'exponential', delay: deps.backoffMs, jitter: 0.5 },
    ...(priority > 0 && { priority: bullPriority(priority) }),
  });

  return {
    async add(lane: string, jobId: string, payload: JobPayload, priority: number): Promise<void> {
      await queueFor(lane).add(GENERATE_JOB_NAME, payload, options(jobId, priority));
    },
    async addBulk(
      lane: string,
      jobs: { jobId: string; payload: JobPayload }[],
      priority: number,
    ): Promise<void> {
      await queueFor(lane).addBulk(
        jobs.map((job) => ({
          name: GENERATE_JOB_NAME,
          data: job.payload,
          opts: options(job.jobId, priority),
        })),
      );
    },
    /**
     * Drops the request a cancelled job carries (zero data retention), in O(1) at any queue depth: its data
     * is replaced and its id stays in the lane, where the worker that reaches it drops it at once because its
     * record is terminal. (Removing it from a FIFO lane would be an LREM over the whole wait list.)
     */
    async scrub(lane: string, jobId: string): Promise<void> {
      const job = await Job.fromId(queueFor(lane), jobId);
      await job?.updateData({ kind: 'cancelled' });
    },
    async close(): Promise<void> {
      await Promise.all([...queues.values()].map((queue) => queue.close()));
    },
  };
}
export type Queues = ReturnType<typeof createQueues>;
