import { type Redis, newJobId } from '@castforge/core';
import { GENERATE_JOB_NAME, type JobPayload } from '@castforge/schemas';
import { Queue } from 'bullmq';

/** The bare baseline adds in chunks of the service's own size (CHUNK in campaigns.service.ts). */
export const BARE_CHUNK = 1000;

/**
 * The job options createQueues (apps/api/src/generation/queues.ts) gives every job of a campaign at
 * priority 0, written out here so the baseline is plain BullMQ. Each round checks that a bare job's stored
 * `opts` (but for the job id BullMQ keeps in them) equal one of ours, so a change in queues.ts cannot go
 * unnoticed.
 */
export const bareJobOptions = (jobId: string, attempts: number, backoffMs: number) => ({
  jobId,
  attempts,
  backoff: { type: 'exponential', delay: backoffMs, jitter: 0.5 },
  removeOnComplete: true,
  removeOnFail: true,
});

/**
 * Bare BullMQ: `jobs` jobs with `payload(i)` added with queue.addBulk, BARE_CHUNK at a time, one chunk after
 * another (as the API does), on `redis` (a fail-fast client like the API's). Stops between chunks once
 * `signal` aborts, so a Ctrl-C never races a chunk in flight. Returns the first job's id.
 */
export async function bareAddBulk(
  queue: Queue,
  jobs: number,
  payload: (index: number) => JobPayload,
  options: { attempts: number; backoffMs: number },
  signal: AbortSignal,
): Promise<string> {
  let firstJobId = '';
  for (let first = 0; first < jobs; first += BARE_CHUNK) {
    signal.throwIfAborted();
    const count = Math.min(BARE_CHUNK, jobs - first);
    const batch = Array.from({ length: count }, (_, offset) => {
      const jobId = newJobId();
      return {
        name: GENERATE_JOB_NAME,
        data: payload(first + offset),
        opts: bareJobOptions(jobId, options.attempts, options.backoffMs),
      };
    });
    firstJobId ||= batch[0]!.opts.jobId;
    await queue.addBulk(batch);
  }
  return firstJobId;
}

export const openBareQueue = (redis: Redis, lane: string, bullPrefix: string) =>
  new Queue(lane, { connection: redis, prefix: bullPrefix });
