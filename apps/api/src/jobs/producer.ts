import {
  AppError,
  type JobRetryOptions,
  type JobStore,
  type LaneQueues,
  type NewJob,
  bullJobOptions,
  isDependencyOutage,
} from '@castforge/core';
import { GENERATE_JOB_NAME, type JobPayload } from '@castforge/schemas';
import { Job } from 'bullmq';

/**
 * The API's side of a job: its status record and its BullMQ job are written in ONE transaction, so no crash
 * or lost reply can leave one without the other (SPEC §13). If the reply is lost after Redis ran it (a
 * command timeout), the record tells whether the job exists, and it is then answered as accepted.
 */
export function createProducer(deps: { jobs: JobStore; queues: LaneQueues; retry: JobRetryOptions }) {
  return {
    async submit(
      job: NewJob & { payload: JobPayload; priority: number },
      maxInFlight: number,
    ): Promise<{ ahead: number }> {
      const bucket = deps.jobs.keys.forTenant(job.tenantId).bucket;
      const queue = deps.queues.get(bucket, job.lane);
      try {
        const { ahead } = await deps.jobs.submit(job, maxInFlight, {
          transaction: () => deps.queues.transaction(queue),
          add: (multi) => {
            const bullJob = new Job(
              queue,
              GENERATE_JOB_NAME,
              job.payload,
              bullJobOptions(job.jobId, job.priority, deps.retry),
              job.jobId,
            );
            void bullJob.addJob(multi as never);
          },
        });
        return { ahead };
      } catch (err) {
        // A CONFLICT on an id this request just drew from the CSPRNG is our own MULTI, re-sent by the client
        // after its first reply was lost: the job exists whole. An outage may have hidden the same thing.
        const ownRetry = err instanceof AppError && err.code === 'CONFLICT';
        if (!ownRetry && !isDependencyOutage(err)) throw err;
        // Did Redis run it before the reply was lost? Then the job exists, whole, and will run.
        const record = await deps.jobs.read(job.tenantId, job.jobId).catch(() => null);
        if (record) return { ahead: record.ahead ?? 0 };
        // Our own id was taken: that proves the first MULTI ran, even if Redis cannot be read this moment.
        if (ownRetry) return { ahead: 0 };
        throw err;
      }
    },
  };
}
export type Producer = ReturnType<typeof createProducer>;
