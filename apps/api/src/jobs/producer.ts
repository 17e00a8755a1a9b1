import {
  type JobRetryOptions,
  type JobStore,
  type LaneQueues,
  type NewJob,
  bullJobOptions,
  isDependencyOutage,
} from '@castforge/core';
import { GENERATE_JOB_NAME, type JobPayload } from '@castforge/schemas';
import { Job } from 'bullmq';
import { type ChainableCommander } from 'ioredis';

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
          transaction: async () => (await queue.getBackend().client).multi() as unknown as ChainableCommander,
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
        if (!isDependencyOutage(err)) throw err;
        // Did Redis run it before the reply was lost? Then the job exists, whole, and will run.
        const record = await deps.jobs.read(job.tenantId, job.jobId).catch(() => null);
        if (!record) throw err;
        return { ahead: record.ahead ?? 0 };
      }
    },
  };
}
export type Producer = ReturnType<typeof createProducer>;
