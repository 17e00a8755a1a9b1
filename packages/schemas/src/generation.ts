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
import { operationRoutes } from './operations';

export const GENERATE_IMAGE_ENDPOINT = '/generate/image/v1';

/** Every route a job can be submitted to; a job's status names the one it came from. */
export const OperationRoute = z.enum(Object.values(operationRoutes));
export type OperationRoute = z.infer<typeof OperationRoute>;

/**
 * An image the worker fetches for a job (SPEC §3b): a public http(s) URL. Whether its host is allowed is
 * decided when the job is submitted and again when the worker fetches it (DNS may change in between).
 */
export const ImageUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http or https URL' })
  .max(2048)
  .meta({ format: 'uri', description: 'A public http(s) URL of a PNG, JPEG or WebP image (≤ 4096×4096)' });

/** The callback URL of a job or campaign (SPEC §6); its host is checked at submit and at delivery. */
export const CallbackUrl = z.url({ protocol: /^https?$/, error: 'must be an http or https URL' }).max(2048);

/**
 * The generation fields a profile pins when it sets them (SPEC §3 "Precedence"), by their request names.
 * The profile's `steps` and `cfg_scale` pin `num_inference_steps` and `guidance_scale`; its adapter is pinned
 * too, but no request field can set it.
 */
export const PinnableField = z.enum([
  'negative_prompt',
  'width',
  'height',
  'num_inference_steps',
  'guidance_scale',
  'output_format',
]);
export type PinnableField = z.infer<typeof PinnableField>;

/**
 * `override_profile` (ext) for a request whose pinnable fields are `fields`: the names of the fields this
 * request may set although the profile pins them. A name that is not one of them is refused by name.
 */
export const overrideProfile = (fields: readonly PinnableField[]) =>
  z
    .array(
      z
        .string()
        .max(64)
        .refine((name) => (fields as readonly string[]).includes(name), {
          error: (issue) =>
            `${JSON.stringify(issue.input)} is not a field this request can take over from the profile ` +
            `(one of: ${fields.join(', ')})`,
          params: { type: 'enum' },
        }),
    )
    .max(fields.length)
    .meta({
      description:
        '(ext) Generation fields this request sets even though the profile pins them (SPEC §3 Precedence): ' +
        fields.join(', '),
    });

/** `enhance_prompt` (SPEC §3, §12): rewrite the prompt with the configured prompt enhancer first. */
export const EnhancePrompt = z.boolean().meta({
  description:
    'Rewrite the prompt with the configured prompt enhancer before the profile join; without one the job ' +
    'runs on the prompt as given and its status carries a warning',
});

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
    callback_url: CallbackUrl.optional(),
    enhance_prompt: EnhancePrompt.default(false),
    logo_url: ImageUrl.optional().meta({
      description: 'A logo composited onto the result: bottom-right, 12 % of the width, 3 % margin',
    }),
    override_profile: overrideProfile(PinnableField.options).default([]),
  })
  .meta({
    id: 'GenerateImageRequest',
    description:
      'A profile pins every generation field it sets (negative_prompt, width, height, steps → ' +
      'num_inference_steps, cfg_scale → guidance_scale, output_format, adapter) unless the request names the ' +
      'field in `override_profile`; fields the profile leaves unset come from the request, then the server ' +
      'default. The seed follows the profile seed_strategy. `prompt` may be omitted only when the profile mode ' +
      'is `replace` or its template has {{ user_prompt }}.',
  });
export type GenerateImageRequest = z.infer<typeof GenerateImageRequest>;

export const JobQueuedResponse = z
  .object({
    job_id: JobId,
    status: z.literal('queued'),
    endpoint: OperationRoute,
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
    endpoint: OperationRoute,
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
    // The fields below are read by the official SDK (SPEC §4). Optional only until every status writer fills
    // them; once it does they become required (nullable) like the rest.
    estimated_time_seconds: z
      .number()
      .min(0)
      .nullable()
      .optional()
      .meta({ description: 'While queued or processing, the expected seconds to completion; else null' }),
    processing_time_seconds: z
      .number()
      .min(0)
      .nullable()
      .optional()
      .meta({ description: 'Seconds from start to finish; null until the job ends' }),
    warnings: z.array(z.string()).nullable().optional().meta({
      description: 'What the job did differently from the request (e.g. a prompt enhancer failure)',
    }),
    prompt_hash: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .nullable()
      .optional()
      .meta({ description: 'Hex SHA-256 of the final prompt' }),
    cost_usd: z
      .number()
      .min(0)
      .nullable()
      .optional()
      .meta({ description: 'Inference seconds × GPU_COST_PER_SECOND_USD when that is set, else null' }),
  })
  .meta({ id: 'JobStatusResponse' });
export type JobStatus = z.infer<typeof JobStatus>;
