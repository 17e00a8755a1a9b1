import { z } from 'zod';
import { CampaignId, JobId, Timestamp } from './common';
import { FailureReasonCode } from './errors';
import { JobStatusName } from './generation';

/** The body POSTed to a job's callback_url when the job ends (SPEC §6). `event` and `campaign_id` are (ext). */
export const JobEvent = z
  .object({
    event: z
      .enum(['job.completed', 'job.failed', 'job.cancelled'])
      .meta({ description: '(ext) what happened' }),
    job_id: JobId,
    tenant_id: z.string(),
    campaign_id: CampaignId.nullable().meta({ description: '(ext) set for the jobs of a campaign' }),
    status: JobStatusName.extract(['completed', 'failed', 'cancelled']),
    result_url: z.string().nullable(),
    result_mime_type: z.string().nullable(),
    result_size_bytes: z.number().int().nullable(),
    timestamp: z.number().int().meta({ description: 'Unix seconds when the job ended' }),
    error: z.string().nullable(),
    failure_reason_code: FailureReasonCode.nullable(),
    retryable: z.boolean().nullable(),
    metadata: z.record(z.string(), z.unknown()).nullable(),
  })
  .meta({
    id: 'WebhookEvent',
    description: 'Signed per Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature.',
  });
export type JobEvent = z.infer<typeof JobEvent>;

export const WebhookSecret = z
  .object({
    secret: z.string().meta({ description: 'whsec_ + base64 key; the HMAC key is the base64-decoded part' }),
    created_at: Timestamp,
    previous_secret_expires_at: Timestamp.nullable().meta({
      description: 'Until then events carry a second signature made with the previous secret',
    }),
  })
  .meta({ id: 'WebhookSecret' });
export type WebhookSecret = z.infer<typeof WebhookSecret>;

export const DeliveryAttempt = z.object({
  at: Timestamp,
  status_code: z.number().int().nullable(),
  error: z.string().nullable(),
  duration_ms: z.number().int(),
});

export const Delivery = z
  .object({
    delivery_id: z.string(),
    webhook_id: z
      .string()
      .meta({ description: 'The webhook-id header: the same on every attempt of this event' }),
    event: z.string(),
    job_id: JobId.nullable(),
    campaign_id: CampaignId.nullable(),
    url: z.string().meta({ description: 'The callback URL without its query string' }),
    status: z.enum(['pending', 'delivered', 'dead']),
    attempts: z.array(DeliveryAttempt),
    next_attempt_at: Timestamp.nullable(),
    created_at: Timestamp,
  })
  .meta({ id: 'WebhookDelivery' });
export type Delivery = z.infer<typeof Delivery>;

export const DeliveryList = z.object({ deliveries: z.array(Delivery) }).meta({ id: 'WebhookDeliveryList' });

export const DeliveryListQuery = z
  .strictObject({ job_id: JobId.optional(), campaign_id: CampaignId.optional() })
  .refine((q) => q.job_id !== undefined || q.campaign_id !== undefined, {
    message: 'job_id or campaign_id is required',
    path: ['job_id'],
    params: { type: 'missing' },
  });
