import { z } from 'zod';
import {
  CampaignId,
  Dimension,
  Guidance,
  JobId,
  MAX_SEED,
  OutputFormat,
  ProfileId,
  Steps,
  Timestamp,
  boundedObject,
} from './common';
import { FailureReasonCode } from './errors';

export const GENERATE_IMAGE_ENDPOINT = '/generate/image/v1';

export const JobStatusName = z.enum(['queued', 'pending', 'processing', 'completed', 'failed', 'cancelled']);
export type JobStatusName = z.infer<typeof JobStatusName>;
export const TERMINAL_STATUSES: readonly JobStatusName[] = ['completed', 'failed', 'cancelled'];

/** The generation fields shared by single jobs and campaign scenes (SPEC §3, §7). */
export const generationFields = {
  prompt: z.string().min(1).max(4000).optional(),
  negative_prompt: z.string().max(4000).optional(),
  width: Dimension.optional(),
  height: Dimension.optional(),
  num_inference_steps: Steps.optional(),
  guidance_scale: Guidance.optional(),
  seed: z.number().int().min(-1).max(MAX_SEED).default(-1),
  output_format: OutputFormat.optional(),
  priority: z.number().int().min(0).max(10).default(0).meta({ description: '(ext) 0 normal … 10 highest' }),
  metadata: boundedObject(4096)
    .optional()
    .meta({ description: '(ext) echoed in status and webhook; ≤ 4 KB' }),
};

export const GenerateImageRequest = z
  .strictObject({
    ...generationFields,
    profile_id: ProfileId.optional(),
    callback_url: z
      .url({ protocol: /^https?$/, error: 'must be an http or https URL' })
      .max(2048)
      .optional(),
  })
  .meta({
    id: 'GenerateImageRequest',
    description:
      'Fields sent beat the profile, which beats the server default; the seed follows the profile seed_strategy. ' +
      '`prompt` may be omitted only when the profile mode is `replace` or its template has {{ user_prompt }}.',
  });
export type GenerateImageRequest = z.infer<typeof GenerateImageRequest>;

export const JobQueuedResponse = z
  .object({
    job_id: JobId,
    status: z.literal('queued'),
    endpoint: z.literal(GENERATE_IMAGE_ENDPOINT),
    estimated_time_seconds: z.number().min(0),
    queued_at: Timestamp,
  })
  .meta({ id: 'JobQueuedResponse' });
export type JobQueuedResponse = z.infer<typeof JobQueuedResponse>;

export const JobStatus = z
  .object({
    job_id: JobId,
    status: JobStatusName,
    progress: z.number().min(0).max(100),
    endpoint: z.literal(GENERATE_IMAGE_ENDPOINT),
    profile_id: ProfileId.nullable(),
    profile_version: z.number().int().nullable(),
    campaign_id: CampaignId.nullable().meta({ description: '(ext) set on the jobs of a campaign' }),
    seed: z
      .number()
      .int()
      .nullable()
      .meta({ description: 'The seed actually used; set once processing starts' }),
    prompt: z
      .string()
      .nullable()
      .meta({ description: 'The final merged prompt; set once processing starts' }),
    result_url: z.string().nullable(),
    result_mime_type: z.string().nullable(),
    result_size_bytes: z.number().int().nullable(),
    result_expires_at: Timestamp.nullable(),
    queue_position: z.number().int().min(0).nullable().meta({ description: '(ext) jobs ahead while queued' }),
    queued_at: Timestamp,
    started_at: Timestamp.nullable(),
    finished_at: Timestamp.nullable(),
    queue_wait_seconds: z.number().nullable(),
    inference_time_seconds: z.number().nullable(),
    total_elapsed_seconds: z.number().nullable(),
    attempts: z.number().int().min(0),
    metadata: z.record(z.string(), z.unknown()).nullable(),
    error: z.string().nullable(),
    failure_reason_code: FailureReasonCode.nullable(),
    retryable: z.boolean().nullable(),
  })
  .meta({ id: 'JobStatusResponse' });
export type JobStatus = z.infer<typeof JobStatus>;
