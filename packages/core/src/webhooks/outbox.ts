import { randomBytes } from 'node:crypto';
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
  sealedUrl: string;
  body: string;
  status: 'pending' | 'delivered' | 'dead';
  attempts: DeliveryAttemptLog[];
  nextAttemptAt: string | null;
  createdAt: string;
}

export function parseDelivery(deliveryId: string, f: Record<string, string>): DeliveryRecord | null {
  if (!f.tenant || !f.body || !f.url) return null;
  return {
    deliveryId,
    tenantId: f.tenant,
    webhookId: f.webhook_id ?? '',
    event: f.event ?? '',
    jobId: f.job_id || null,
    campaignId: f.campaign_id || null,
    sealedUrl: f.url,
    body: f.body,
    status: (f.status as DeliveryRecord['status']) ?? 'pending',
    attempts: f.attempts ? (JSON.parse(f.attempts) as DeliveryAttemptLog[]) : [],
    nextAttemptAt: f.next_attempt_at || null,
    createdAt: f.created_at ?? new Date(0).toISOString(),
  };
}

/**
 * Webhook deliveries are written to Redis and queued in their own BullMQ queue (SPEC §6): the worker that
 * ran a job never calls a receiver itself, so a slow or dead receiver never slows generation. The BullMQ job
 * carries only the delivery id; the sealed URL and the event body live in the delivery record.
 */
export function createWebhookOutbox(deps: {
  redis: Redis;
  keys: RedisKeys;
  sealer: Sealer;
  attempts: number;
}) {
  const { redis, keys } = deps;
  const queue = new Queue(WEBHOOK_QUEUE, { connection: redis, prefix: keys.bullPrefix });
  queue.on('error', () => undefined);

  const addDeliveryJob = (deliveryId: string, bullJobId: string) =>
    queue.add(
      DELIVER_JOB,
      { d: deliveryId },
      { jobId: bullJobId, attempts: deps.attempts, backoff: { type: 'webhook' } },
    );

  const view = (record: DeliveryRecord): Delivery => ({
    delivery_id: record.deliveryId,
    webhook_id: record.webhookId,
    event: record.event,
    job_id: record.jobId,
    campaign_id: record.campaignId,
    url: displayUrl(deps.sealer.open(record.sealedUrl)),
    status: record.status,
    attempts: record.attempts,
    next_attempt_at: record.nextAttemptAt,
    created_at: record.createdAt,
  });

  const read = async (deliveryId: string) =>
    parseDelivery(deliveryId, await redis.hgetall(keys.delivery(deliveryId)));

  return {
    queue,

    /** Records and queues one event for delivery. `sealedUrl` is the callback URL as sealed at submit. */
    async enqueue(input: {
      tenantId: string;
      sealedUrl: string;
      event: { event: string; job_id?: string | null; campaign_id?: string | null };
    }): Promise<string> {
      const deliveryId = `dlv_${randomBytes(8).toString('hex')}`;
      const owner = input.event.job_id ?? input.event.campaign_id ?? null;
      const fields: Record<string, string> = {
        tenant: input.tenantId,
        webhook_id: `msg_${randomBytes(12).toString('hex')}`,
        event: input.event.event,
        job_id: input.event.job_id ?? '',
        campaign_id: input.event.campaign_id ?? '',
        url: input.sealedUrl,
        body: JSON.stringify(input.event),
        status: 'pending',
        attempts: '[]',
        created_at: new Date().toISOString(),
      };
      const tx = redis
        .multi()
        .hset(keys.delivery(deliveryId), fields)
        .expire(keys.delivery(deliveryId), RECORD_TTL_SECONDS);
      if (owner)
        tx.rpush(keys.deliveriesOf(owner), deliveryId).expire(keys.deliveriesOf(owner), RECORD_TTL_SECONDS);
      await tx.exec();
      await addDeliveryJob(deliveryId, deliveryId);
      return deliveryId;
    },

    read,

    /** The deliveries of a job (or campaign) of this tenant, oldest first. */
    async list(tenantId: string, ownerId: string): Promise<Delivery[]> {
      const ids = await redis.lrange(keys.deliveriesOf(ownerId), 0, 99);
      const records = await Promise.all(ids.map(read));
      return records.filter((r): r is DeliveryRecord => r !== null && r.tenantId === tenantId).map(view);
    },

    /** Sends a delivered or dead event again, with the same webhook-id (the receiver may deduplicate on it). */
    async redeliver(tenantId: string, deliveryId: string): Promise<Delivery> {
      const record = await read(deliveryId);
      if (!record || record.tenantId !== tenantId)
        throw new AppError('NOT_FOUND', `delivery ${deliveryId} not found`);
      if (record.status === 'pending') {
        throw new AppError('CONFLICT', `delivery ${deliveryId} is still being attempted; wait for it to end`);
      }
      await redis
        .multi()
        .hset(keys.delivery(deliveryId), 'status', 'pending', 'next_attempt_at', new Date().toISOString())
        .expire(keys.delivery(deliveryId), RECORD_TTL_SECONDS)
        .exec();
      await addDeliveryJob(deliveryId, `${deliveryId}-r${record.attempts.length}`);
      return view({ ...record, status: 'pending', nextAttemptAt: new Date().toISOString() });
    },

    close: () => queue.close(),
  };
}
export type WebhookOutbox = ReturnType<typeof createWebhookOutbox>;
