import { type CastforgeClient, GENERATE_ENDPOINT } from './client';
import { sleep } from './sleep';
import { type Campaign, type CampaignJob, type JobStatus, type JobStatusName, isTerminal } from './types';

export interface PollOptions {
  /** First wait between polls; it grows by half each poll up to `maxIntervalMs`. Default 250 ms. */
  intervalMs?: number;
  /** Longest wait between polls. Default 5 s. */
  maxIntervalMs?: number;
  /** Give up (rejecting with a TimeoutError) after this long. Default: never. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

class PollTimeoutError extends Error {
  override name = 'TimeoutError';
}

/** Polls `read` until `done` says so, backing off between polls. 429s are waited out by the client's fetch. */
async function poll<T>(
  read: (signal?: AbortSignal) => Promise<T>,
  done: (value: T) => boolean,
  options: PollOptions,
) {
  const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
  let interval = options.intervalMs ?? 250;
  for (;;) {
    const value = await read(options.signal);
    if (done(value)) return value;
    if (Date.now() + interval > deadline)
      throw new PollTimeoutError(`still not done after ${options.timeoutMs} ms`);
    await sleep(interval, options.signal);
    interval = Math.min(options.maxIntervalMs ?? 5000, Math.ceil(interval * 1.5));
  }
}

/**
 * Polls `GET <endpoint>/status/{job_id}` until the job is completed, failed or cancelled, and resolves with
 * that status (a failed job resolves too: look at `status` and `failure_reason_code`). `onStatus` sees every
 * status read on the way, for progress and queue position.
 */
export function waitForJob(
  client: CastforgeClient,
  job: string | { job_id: string; endpoint?: string },
  options: PollOptions & { endpoint?: string; onStatus?: (status: JobStatus) => void } = {},
): Promise<JobStatus> {
  const jobId = typeof job === 'string' ? job : job.job_id;
  const endpoint =
    options.endpoint ?? (typeof job === 'string' ? undefined : job.endpoint) ?? GENERATE_ENDPOINT;
  return poll(
    async (signal) => {
      const status = await client.jobs.status(jobId, endpoint, signal);
      options.onStatus?.(status);
      return status;
    },
    (status) => isTerminal(status.status),
    options,
  );
}

/** Polls a campaign until it is no longer running; `onProgress` sees each read (counts, progress, ETA). */
export function waitForCampaign(
  client: CastforgeClient,
  campaignId: string,
  options: PollOptions & { onProgress?: (campaign: Campaign) => void } = {},
): Promise<Campaign> {
  return poll(
    async (signal) => {
      const campaign = await client.campaigns.get(campaignId, signal);
      options.onProgress?.(campaign);
      return campaign;
    },
    (campaign) => campaign.status !== 'running',
    { intervalMs: 1000, maxIntervalMs: 2000, ...options },
  );
}

/** Every job of a campaign (optionally of one status), in campaign order, page after page. */
export async function* campaignJobs(
  client: CastforgeClient,
  campaignId: string,
  query: { status?: JobStatusName; pageSize?: number; signal?: AbortSignal } = {},
): AsyncGenerator<CampaignJob> {
  let cursor: string | undefined;
  do {
    const page = await client.campaigns.jobs(
      campaignId,
      {
        limit: query.pageSize ?? 100,
        ...(query.status && { status: query.status }),
        ...(cursor && { cursor }),
      },
      query.signal,
    );
    yield* page.jobs;
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
}

/** `campaignJobs` gathered into an array. */
export async function allCampaignJobs(
  client: CastforgeClient,
  campaignId: string,
  query: Parameters<typeof campaignJobs>[2] = {},
): Promise<CampaignJob[]> {
  const jobs: CampaignJob[] = [];
  for await (const job of campaignJobs(client, campaignId, query)) jobs.push(job);
  return jobs;
}
