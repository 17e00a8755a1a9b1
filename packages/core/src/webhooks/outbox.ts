import { createHash } from 'node:crypto';
import { type Delivery } from '@castforge/schemas';
import { Queue } from 'bullmq';
import { type Redis } from 'ioredis';
import { AppError } from '../errors';
import { type RedisKeys } from '../jobs/keys';
import { type Sealer, displayUrl } from './sealer';

export const WEBHOOK_QUEUE = 'webhooks';
export const DELIVER_JOB = 'deliver';

/** A delivery record outlives the ~24 h retry window by two days, so its log can be read afterwards. */
const RECORD_TTL_SECONDS = 3 * 24 * 3600;
/** Attempts kept in a record's log: the first ones and the last ones tell the story. */
const LOG_LIMIT = 20;

export interface DeliveryAttemptLog {
  at: string;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
}

export interface DeliveryRecord {
  deliveryId: string;
  tenantId: string;
  webhookId: string;
  event: string;
  jobId: string | null;
  campaignId: string | null;
  /** The callback URL sealed, or null when it is the campaign's (a campaign job's event). */
  sealedUrl: string | null;
  /**
   * The event body once an attempt failed (later attempts send the same bytes); built when first sent. Never
   * kept for a campaign job's event, whose retries build it again from the job's record.
   */
  body: string | null;
  status: 'pending' | 'delivered' | 'dead';
  attempts: DeliveryAttemptLog[];
  nextAttemptAt: string | null;
  createdAt: string;
  /** A campaign job's delivery: its record goes once delivered (a campaign's memory stays bounded). */
  shortLived: boolean;
}

export function parseDelivery(deliveryId: string, f: Record<string, string>): DeliveryRecord | null {
  if (!f.tenant || !f.event) return null;
  return {
    deliveryId,
    tenantId: f.tenant,
    webhookId: f.webhook_id ?? '',
    event: f.event,
    jobId: f.job_id || null,
    campaignId: f.campaign_id || null,
    sealedUrl: f.url || null,
    body: f.body || null,
    status: (f.status as DeliveryRecord['status']) ?? 'pending',
    attempts: f.attempts ? (JSON.parse(f.attempts) as DeliveryAttemptLog[]) : [],
    nextAttemptAt: f.next_attempt_at || null,
    createdAt: f.created_at ?? new Date(0).toISOString(),
    shortLived: f.short === '1',
  };
}

const digest = (text: string, length: number) =>
  createHash('sha256').update(text).digest('hex').slice(0, length);

/**
 * One event has one delivery, whatever retried or crashed on the way: its id and its `webhook-id` are
 * derived from what it is about (the job or campaign) and the event, so recording it twice is a no-op and a
 * receiver sees the same `webhook-id` on every attempt (SPEC §6, §13).
 */
export const deliveryIdOf = (ownerId: string, event: string) => `dlv_${digest(`${ownerId}:${event}`, 16)}`;
export const webhookIdOf = (ownerId: string, event: string) => `msg_${digest(`msg:${ownerId}:${event}`, 24)}`;

const JOB_EVENTS = ['job.completed', 'job.failed', 'job.cancelled'] as const;

/** Keeps the first and the last attempts of a long log. */
export function compactLog(attempts: DeliveryAttemptLog[]): DeliveryAttemptLog[] {
  if (attempts.length <= LOG_LIMIT) return attempts;
  return [...attempts.slice(0, LOG_LIMIT / 2), ...attempts.slice(-LOG_LIMIT / 2)];
}

/**
 * Webhook deliveries (SPEC §6): a record per event plus a job in their own BullMQ queue, so the worker that
 * ran a job never calls a receiver itself and a slow receiver never slows generation. The records are small:
 * the event body is built from the job's record when first sent (and kept only if that attempt failed), and a
 * campaign job's URL is its campaign's, stored once.
 */
export function createWebhookOutbox(deps: {
  redis: Redis;
  keys: RedisKeys;
  sealer: Sealer;
  attempts: number;
}) {
  const { redis, keys } = deps;
  const wh = keys.webhooks;
  const queue = new Queue(WEBHOOK_QUEUE, { connection: redis, prefix: wh.bullPrefix });
  queue.on('error', () => undefined);

  const addDeliveryJob = (deliveryId: string, bullJobId: string) =>
    queue.add(
      DELIVER_JOB,
      { d: deliveryId },
      { jobId: bullJobId, attempts: deps.attempts, backoff: { type: 'webhook' } },
    );

  const read = async (deliveryId: string) =>
    parseDelivery(deliveryId, await redis.hgetall(wh.delivery(deliveryId)));

  /** The campaign's sealed callback URL, for its jobs' deliveries. */
  const campaignUrl = async (tenantId: string, campaignId: string) =>
    redis.hget(keys.forTenant(tenantId).campaign(campaignId), 'callback_url');

  const view = async (record: DeliveryRecord): Promise<Delivery> => {
    const sealed =
      record.sealedUrl ?? (record.campaignId ? await campaignUrl(record.tenantId, record.campaignId) : null);
    return {
      delivery_id: record.deliveryId,
      webhook_id: record.webhookId,
      event: record.event,
      job_id: record.jobId,
      campaign_id: record.campaignId,
      url: sealed ? displayUrl(deps.sealer.open(sealed)) : '',
      status: record.status,
      attempts: record.attempts,
      next_attempt_at: record.nextAttemptAt,
      created_at: record.createdAt,
    };
  };

  return {
    queue,
    read,
    campaignUrl,

    /**
     * Records the delivery of one event unless it is already recorded, and queues it while it is pending.
     * Idempotent: the outbox relay calls it again after a crash, and nothing is sent twice by that.
     */
    async ensure(input: {
      tenantId: string;
      event: string;
      jobId?: string | null;
      campaignId?: string | null;
      /** The sealed callback URL; omitted for a campaign job, whose URL is its campaign's. */
      sealedUrl?: string | null;
    }): Promise<string> {
      const owner = input.event.startsWith('job.') ? input.jobId! : input.campaignId!;
      const deliveryId = deliveryIdOf(owner, input.event);
      const key = wh.delivery(deliveryId);
      const shortLived = input.event.startsWith('job.') && !!input.campaignId && !input.sealedUrl;
      const fields: Record<string, string> = {
        tenant: input.tenantId,
        webhook_id: webhookIdOf(owner, input.event),
        event: input.event,
        job_id: input.jobId ?? '',
        campaign_id: input.campaignId ?? '',
        status: 'pending',
        created_at: new Date().toISOString(),
      };
      if (input.sealedUrl) fields.url = input.sealedUrl;
      if (shortLived) fields.short = '1';
      // Every field set only if absent, in one transaction: the first call records it whole, a repeat changes
      // nothing (not even an attempt log or a status a delivery has since written).
      const tx = redis.multi();
      for (const [name, value] of Object.entries(fields)) tx.hsetnx(key, name, value);
      tx.expire(key, RECORD_TTL_SECONDS, 'NX');
      const results = (await tx.exec()) ?? [];
      const created = results[0]?.[1] === 1;
      // Recorded before a crash and maybe never queued: BullMQ ignores the id while it is queued already.
      if (created || (await redis.hget(key, 'status')) === 'pending')
        await addDeliveryJob(deliveryId, deliveryId);
      return deliveryId;
    },

    /** Records the outcome of an attempt; a delivered short-lived record goes. */
    async recordAttempt(
      record: DeliveryRecord,
      outcome: {
        status: DeliveryRecord['status'];
        attempts: DeliveryAttemptLog[];
        nextAttemptAt: string | null;
        body?: string;
      },
    ): Promise<void> {
      const key = wh.delivery(record.deliveryId);
      if (outcome.status === 'delivered' && record.shortLived) {
        await redis.del(key);
        return;
      }
      const fields: Record<string, string> = {
        status: outcome.status,
        attempts: JSON.stringify(compactLog(outcome.attempts)),
        next_attempt_at: outcome.nextAttemptAt ?? '',
      };
      // A single job's or a campaign's event keeps the bytes of its first failed attempt, so every retry sends
      // the same. A campaign job's event does not (a campaign's webhooks cost bounded memory, not a body per
      // job): its retries rebuild the event from the job's record, which does not change once the job ended.
      if (outcome.body && !record.body && !record.shortLived) fields.body = outcome.body;
      await redis.hset(key, fields);
    },

    /** The deliveries of a job (or campaign) of this tenant: its events' records, oldest first. */
    async list(tenantId: string, ownerId: string): Promise<Delivery[]> {
      const events = ownerId.startsWith('camp_') ? ['campaign.completed'] : [...JOB_EVENTS];
      const records = await Promise.all(events.map((event) => read(deliveryIdOf(ownerId, event))));
      const mine = records.filter((r): r is DeliveryRecord => r !== null && r.tenantId === tenantId);
      return Promise.all(mine.sort((a, b) => a.createdAt.localeCompare(b.createdAt)).map(view));
    },

    /** Sends a delivered or dead event again, with the same webhook-id (the receiver may deduplicate on it). */
    async redeliver(tenantId: string, deliveryId: string): Promise<Delivery> {
      const record = await read(deliveryId);
      if (!record || record.tenantId !== tenantId)
        throw new AppError('NOT_FOUND', `delivery ${deliveryId} not found`);
      if (record.status === 'pending') {
        throw new AppError('CONFLICT', `delivery ${deliveryId} is still being attempted; wait for it to end`);
      }
      const now = new Date().toISOString();
      await redis
        .multi()
        .hset(wh.delivery(deliveryId), 'status', 'pending', 'next_attempt_at', now)
        .expire(wh.delivery(deliveryId), RECORD_TTL_SECONDS)
        .exec();
      await addDeliveryJob(deliveryId, `${deliveryId}-r${record.attempts.length}`);
      return view({ ...record, status: 'pending', nextAttemptAt: now });
    },

    close: () => queue.close(),
  };
}
export type WebhookOutbox = ReturnType<typeof createWebhookOutbox>;
