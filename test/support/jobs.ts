import { type JobStatus, TERMINAL_STATUSES } from '@castforge/schemas';
import supertest from 'supertest';
import { type ApiHarness } from './api';
import { waitFor } from './wait';

/** Whether a job has ended: completed, failed or cancelled. */
export const hasEnded = (status: JobStatus) => TERMINAL_STATUSES.includes(status.status);

/**
 * Polls GET /generate/image/v1/status/:job_id as the key's tenant until the job has ended, and returns that
 * status. `onStatus` sees every status polled on the way, the last one included.
 */
export function jobEnded(
  api: ApiHarness,
  key: string,
  jobId: string,
  options: { timeoutMs: number; intervalMs?: number; onStatus?: (status: JobStatus) => void },
): Promise<JobStatus> {
  return waitFor(
    async () => {
      const res = await supertest(api.server).get(`/generate/image/v1/status/${jobId}`).set('X-API-Key', key);
      const status = res.body as JobStatus;
      options.onStatus?.(status);
      return hasEnded(status) && status;
    },
    { timeoutMs: options.timeoutMs, intervalMs: options.intervalMs, what: `job ${jobId} to end` },
  );
}
