import { rm } from 'node:fs/promises';
import { type Redis, campaignLaneFor, createRedis, redisKeys } from '@castforge/core';
import { type BenchApi, startApi } from '../support/api';
import { type HttpClient, createHttpClient } from '../support/http';
import { type BenchServices, deleteUnder } from '../support/services';
import { BARE_CHUNK, bareAddBulk, openBareQueue } from './bare';
import { type CampaignShape, type PayloadKind, jobsOf, payloadFactory } from './shape';
import { submitCampaign } from './ours';

/** Every side's jobs go to the same lane name, so BullMQ's keys have the same length on every side. */
export const TENANT = 'bench';
export const LANE = campaignLaneFor(TENANT);

export type Side = 'ours' | PayloadKind;
export const SIDES: readonly Side[] = ['ours', 'identical', 'naive'];

export const SIDE_LABELS: Record<Side, string> = {
  ours: 'ours: POST /campaigns/v1, request → 202',
  identical: `bare BullMQ addBulk × ${BARE_CHUNK}, identical data + options`,
  naive: 'bare BullMQ addBulk, naive ~300 B payload (context)',
};

/** One side set up under its own Redis prefix: what to time, and how to remove all of it afterwards. */
export interface OpenSide {
  side: Side;
  prefix: string;
  /** Enqueues the side's jobs; the seconds counted and the first job's BullMQ id. */
  enqueue(signal: AbortSignal): Promise<{ seconds: number; firstJobId: string; campaignId?: string }>;
  /** Ours only: the API and a client of the tenant, for the polls while the campaign is queued. */
  api?: { api: BenchApi; http: HttpClient; profileIds: string[] };
  /** Closes the side's clients and deletes every key under its prefix; safe to call twice. */
  free(): Promise<void>;
}

const once = (fn: () => Promise<void>) => {
  let done: Promise<void> | undefined;
  return () => (done ??= fn());
};

/** Settings that would throttle a bench come in through env, as an operator would set them. */
const apiEnv = (jobs: number) => ({
  RATE_LIMIT_RPS: '0',
  TENANT_MAX_JOBS_IN_FLIGHT: '0',
  ...(jobs > 100_000 && { CAMPAIGN_MAX_JOBS: String(jobs) }),
});

/** Ours: the real API app under `prefix`; its campaign's jobs are timed from the POST to the 202. */
export async function openOurs(
  services: BenchServices,
  prefix: string,
  shape: CampaignShape,
  roster: (http: HttpClient) => Promise<string[]>,
): Promise<OpenSide> {
  const api = await startApi(services, prefix, apiEnv(jobsOf(shape)));
  let http: HttpClient | undefined;
  const free = once(async () => {
    http?.close();
    await api.close();
    await deleteUnder(services.admin, prefix);
    await rm(api.dataDir, { recursive: true, force: true });
  });
  let profileIds: string[];
  try {
    http = createHttpClient(api.baseUrl, { 'x-api-key': await api.keyFor(TENANT) });
    profileIds = await roster(http);
  } catch (err) {
    await free();
    throw err;
  }
  const client = http;
  return {
    side: 'ours',
    prefix,
    api: { api, http: client, profileIds },
    async enqueue(signal) {
      signal.throwIfAborted();
      const submitted = await submitCampaign(client, `bench ${jobsOf(shape)}`, profileIds, shape);
      // A campaign's job ids are derived from its number (nothing is stored per job to read them from).
      const n = api.deps.jobs.ids.campaignNumber(submitted.campaignId);
      return {
        seconds: submitted.seconds,
        firstJobId: n === null ? '' : api.deps.jobs.ids.jobId(n, 0),
        campaignId: submitted.campaignId,
      };
    },
    free,
  };
}

/** Bare BullMQ under `prefix`: a Queue on a fail-fast client like the API's, addBulk in chunks. */
export function openBare(
  services: BenchServices,
  prefix: string,
  kind: PayloadKind,
  shape: CampaignShape,
  options: { attempts: number; backoffMs: number },
): OpenSide {
  // Before the Queue: opening one writes its meta key, which a failure here would leave behind.
  const payload = payloadFactory(kind, shape);
  const redis: Redis = createRedis(services.redisUrl, 'command', services.logger);
  const queue = openBareQueue(redis, LANE, redisKeys(prefix).forTenant(TENANT).bullPrefix);
  return {
    side: kind,
    prefix,
    async enqueue(signal) {
      await queue.waitUntilReady();
      const started = performance.now();
      const firstJobId = await bareAddBulk(queue, jobsOf(shape), payload, options, signal);
      return { seconds: (performance.now() - started) / 1000, firstJobId };
    },
    free: once(async () => {
      await queue.close();
      redis.disconnect();
      await deleteUnder(services.admin, prefix);
    }),
  };
}

/** What BullMQ stored for a job: the fields that must match between ours and the identical baseline. */
export async function storedJob(redis: Redis, prefix: string, jobId: string) {
  const key = `${redisKeys(prefix).forTenant(TENANT).bullPrefix}:${LANE}:${jobId}`;
  const [name, data, opts] = await redis.hmget(key, 'name', 'data', 'opts');
  if (name == null || data == null || opts == null) throw new Error(`no BullMQ job hash ${key}`);
  // BullMQ keeps the job's id in its opts too; the rest must match between the sides.
  const { jobId: _id, ...options } = JSON.parse(opts) as Record<string, unknown>;
  return {
    name,
    opts: JSON.stringify(options),
    dataBytes: Buffer.byteLength(data),
    optsBytes: Buffer.byteLength(opts),
  };
}
export type StoredJob = Awaited<ReturnType<typeof storedJob>>;

/** Every job must still be waiting (none active, delayed or prioritized): no worker took one. */
export async function expectAllWaiting(redis: Redis, prefix: string, jobs: number): Promise<void> {
  const base = `${redisKeys(prefix).forTenant(TENANT).bullPrefix}:${LANE}`;
  const [wait, active, delayed, prioritized] = await Promise.all([
    redis.llen(`${base}:wait`),
    redis.llen(`${base}:active`),
    redis.zcard(`${base}:delayed`),
    redis.zcard(`${base}:prioritized`),
  ]);
  if (wait !== jobs || active + delayed + prioritized !== 0) {
    throw new Error(
      `${base}: ${wait} waiting, ${active} active, ${delayed} delayed, ${prioritized} prioritized; ` +
        `expected ${jobs} waiting and nothing else`,
    );
  }
}
