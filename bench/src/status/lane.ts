import { type LaneQueues, type Redis, type RedisKeys, createJobStore, laneFor } from '@castforge/core';
import { Queue } from 'bullmq';
import { type BenchApi } from '../support/api';
import { createHttpClient } from '../support/http';
import { type LaneFill, createLaneFill, payloadFor } from './fill';
import { type Poll, type Probes, createProbes, getStatePoll, readPoll } from './probes';

/** A typical request (the README's example): 1024², a scene prompt, defaults for the rest. */
const BODY = { prompt: 'A woman standing on a rooftop at sunset, golden hour', width: 1024, height: 1024 };

/** One tenant's lane: how to fill it and how to poll its jobs, sequentially and pipelined. */
export interface LaneUnderTest {
  tenantId: string;
  lane: string;
  fill: LaneFill;
  /** One poll at a time, on the clients the API uses (the latency a client sees). */
  probes: Probes;
  /** On an auto-pipelining client (what Redis spends per poll when many are in flight). */
  pipelined: { read: Poll; getState: Poll };
  waiting(): Promise<number>;
  /** Removes the lane's BullMQ keys (all jobs included); the status records are the caller's to delete. */
  obliterate(): Promise<void>;
  close(): Promise<void>;
}

export interface LaneClients {
  api: BenchApi;
  keys: RedisKeys;
  /** enableAutoPipelining: the fill's CREATEs and the pipelined polls. */
  pipelined: Redis;
  /** Like the API's own client (fail-fast 'command'), so getState and read compare like for like. */
  baseline: Redis;
  /** The API's createQueues on a patient client, for the fill's addBulk. */
  fillQueues: LaneQueues;
  batchSize: number;
}

export async function openLane(clients: LaneClients, tenantId: string): Promise<LaneUnderTest> {
  const { api, keys } = clients;
  const lane = laneFor(tenantId, 0);
  const prefix = keys.forTenant(tenantId).bullPrefix;
  const queue = new Queue(lane, { connection: clients.baseline, prefix });
  const pipelinedQueue = new Queue(lane, { connection: clients.pipelined, prefix });
  const pipelinedJobs = createJobStore({
    redis: clients.pipelined,
    keys,
    ids: api.deps.jobs.ids,
    retentionSeconds: api.deps.config.RESULT_TTL_SECONDS,
  });
  const http = createHttpClient(api.baseUrl, { 'x-api-key': await api.keyFor(tenantId) });
  return {
    tenantId,
    lane,
    fill: createLaneFill({
      jobs: pipelinedJobs,
      queues: clients.fillQueues,
      retry: { attempts: api.deps.config.JOB_ATTEMPTS, backoffMs: api.deps.config.JOB_BACKOFF_MS },
      tenantId,
      lane,
      payload: payloadFor(BODY),
      batchSize: clients.batchSize,
    }),
    probes: createProbes({ jobs: api.deps.jobs, tenantId, http, queue, redis: api.redis }),
    pipelined: { read: readPoll(pipelinedJobs, tenantId), getState: getStatePoll(pipelinedQueue) },
    waiting: () => queue.getWaitingCount(),
    obliterate: () => queue.obliterate({ force: true }),
    async close() {
      http.close();
      await queue.close();
      await pipelinedQueue.close();
    },
  };
}
