import { type JobStore, type Redis } from '@castforge/core';
import { type Queue } from 'bullmq';
import { type HttpClient } from '../support/http';

export const METHODS = ['read', 'http', 'getState', 'ping'] as const;
export type Method = (typeof METHODS)[number];

export const METHOD_LABELS: Record<Method, string> = {
  read: 'ours: job store read (READ script, 1 round trip)',
  http: 'ours: GET /generate/image/v1/status/:id (real API app)',
  getState: 'baseline: BullMQ queue.getJobState(id)',
  ping: "floor: PING on the store's client (a bare round trip; shows how noisy the machine was)",
};

export type Probes = Record<Method, Poll>;

export type Poll = (jobId: string) => Promise<unknown>;

/** Ours: the job store's read, exactly what GET /status calls. */
export const readPoll =
  (jobs: JobStore, tenantId: string): Poll =>
  async (jobId) => {
    const record = await jobs.read(tenantId, jobId);
    if (!record) throw new Error(`read: job ${jobId} not found`);
    return record;
  };

/** The baseline: what a status endpoint built on BullMQ alone would call. */
export const getStatePoll =
  (queue: Queue): Poll =>
  async (jobId) => {
    const state = await queue.getJobState(jobId);
    if (state === 'unknown') throw new Error(`getJobState: job ${jobId} unknown`);
    return state;
  };

/**
 * One status poll per method. Each checks the answer it got, so a bench that silently measured a 404,
 * a 429 or an unknown job would fail instead of reporting a fast number.
 */
export function createProbes(deps: {
  jobs: JobStore;
  tenantId: string;
  http: HttpClient;
  queue: Queue;
  /** The client the job store reads with, for the round-trip floor. */
  redis: Redis;
}): Probes {
  return {
    read: readPoll(deps.jobs, deps.tenantId),
    async http(jobId) {
      const reply = await deps.http.get(`/generate/image/v1/status/${jobId}`);
      if (reply.status !== 200) throw new Error(`GET status ${jobId}: HTTP ${reply.status}`);
      return reply.body;
    },
    getState: getStatePoll(deps.queue),
    ping: () => deps.redis.ping(),
  };
}

/** Before timing a job: every method must see it waiting, and ours must give its exact queue position. */
export async function verifyWaiting(probes: Probes, jobId: string, expectedAhead: number): Promise<void> {
  const record = (await probes.read(jobId)) as { status: string; ahead: number | null };
  const view = (await probes.http(jobId)) as { status: string; queue_position: number | null };
  const state = await probes.getState(jobId);
  const problems = [
    record.status !== 'queued' || record.ahead !== expectedAhead
      ? `read: ${record.status}, ahead ${record.ahead}`
      : '',
    view.status !== 'queued' || view.queue_position !== expectedAhead
      ? `HTTP: ${view.status}, queue_position ${view.queue_position}`
      : '',
    state !== 'waiting' ? `getJobState: ${String(state)}` : '',
  ].filter(Boolean);
  if (problems.length) {
    throw new Error(`job ${jobId} (expected queued, ${expectedAhead} ahead): ${problems.join('; ')}`);
  }
}
