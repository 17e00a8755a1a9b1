import { z } from 'zod';
import { CampaignId, ProfileId, Timestamp, boundedObject } from './common';
import { JobStatus, JobStatusName, generationFields } from './generation';

/** A scene: the generation fields of SPEC §3 except profile_id and callback_url, plus a name (ext). */
export const Scene = z
  .strictObject({
    ...generationFields,
    name: z
      .string()
      .min(1)
      .max(100)
      .regex(/^[^/\\\0]+$/, 'must not contain / or \\')
      .optional()
      .meta({ description: '(ext) names the folder the CLI downloads this scene into' }),
  })
  .omit({ priority: true })
  .meta({ id: 'CampaignScene' });
export type Scene = z.infer<typeof Scene>;

export const CampaignCreate = z
  .strictObject({
    name: z.string().min(1).max(200),
    profile_ids: z.array(ProfileId).min(1).max(1000),
    scenes: z.array(Scene).min(1).max(1000),
    variants: z.number().int().min(1).max(16).default(1),
    callback_url: z
      .url({ protocol: /^https?$/, error: 'must be an http or https URL' })
      .max(2048)
      .optional(),
    priority: generationFields.priority,
    metadata: boundedObject(4096).optional(),
  })
  .superRefine((value, ctx) => {
    const seen = new Map<string, number>();
    value.profile_ids.forEach((id, index) => {
      if (seen.has(id)) {
        ctx.addIssue({
          code: 'custom',
          path: ['profile_ids', index],
          message: `repeats profile_ids[${seen.get(id)}]`,
          params: { type: 'duplicate' },
        });
      } else seen.set(id, index);
    });
  })
  .meta({
    id: 'CampaignCreate',
    description:
      'Jobs = profiles × scenes × variants (at most CAMPAIGN_MAX_JOBS). With a `fixed` profile variant i uses ' +
      'fixed_seed + i; with a seed in the scene, seed + i; otherwise each variant gets a random seed.',
  });
export type CampaignCreate = z.infer<typeof CampaignCreate>;

export const CampaignStatusName = z.enum(['running', 'completed', 'completed_with_failures', 'cancelled']);
export type CampaignStatusName = z.infer<typeof CampaignStatusName>;

export const CampaignCounts = z.object({
  queued: z.number().int(),
  pending: z.number().int(),
  processing: z.number().int(),
  completed: z.number().int(),
  failed: z.number().int(),
  cancelled: z.number().int(),
});
export type CampaignCounts = z.infer<typeof CampaignCounts>;

export const Campaign = z
  .object({
    campaign_id: CampaignId,
    name: z.string(),
    status: CampaignStatusName,
    job_count: z.number().int(),
    profile_count: z.number().int(),
    scene_count: z.number().int(),
    variants: z.number().int(),
    priority: z.number().int(),
    counts: CampaignCounts,
    progress: z.number().min(0).max(100),
    eta_seconds: z
      .number()
      .nullable()
      .meta({ description: 'From recently measured inference times; null once ended' }),
    metadata: z.record(z.string(), z.unknown()).nullable(),
    created_at: Timestamp,
    finished_at: Timestamp.nullable(),
  })
  .meta({ id: 'Campaign' });
export type Campaign = z.infer<typeof Campaign>;

export const CampaignQueuedResponse = z
  .object({
    campaign_id: CampaignId,
    job_count: z.number().int(),
    status: CampaignStatusName,
    created_at: Timestamp,
  })
  .meta({ id: 'CampaignQueuedResponse' });
export type CampaignQueuedResponse = z.infer<typeof CampaignQueuedResponse>;

export const CampaignList = z
  .object({ campaigns: z.array(Campaign), next_cursor: z.string().nullable() })
  .meta({ id: 'CampaignList' });

export const CampaignListQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).max(512).optional(),
});

/** A campaign job as listed: its status plus where it sits in the campaign (ext). */
export const CampaignJob = JobStatus.extend({
  campaign_index: z.number().int(),
  profile_index: z.number().int(),
  profile_name: z.string(),
  scene_index: z.number().int(),
  scene_name: z.string(),
  variant: z.number().int(),
}).meta({ id: 'CampaignJob' });
export type CampaignJob = z.infer<typeof CampaignJob>;

export const CampaignJobList = z
  .object({ jobs: z.array(CampaignJob), next_cursor: z.string().nullable() })
  .meta({ id: 'CampaignJobList' });
export type CampaignJobList = z.infer<typeof CampaignJobList>;

export const CampaignJobsQuery = z.strictObject({
  status: JobStatusName.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z
    .string()
    .regex(/^\d{1,9}$/, 'is not a cursor this API returned')
    .optional(),
});

/** The event sent to a campaign's callback_url once its last job has ended (ext). */
export const CampaignEvent = z
  .object({
    event: z.literal('campaign.completed'),
    campaign_id: CampaignId,
    tenant_id: z.string(),
    status: CampaignStatusName.exclude(['running']),
    job_count: z.number().int(),
    counts: CampaignCounts,
    timestamp: z.number().int(),
    metadata: z.record(z.string(), z.unknown()).nullable(),
  })
  .meta({ id: 'CampaignCompletedEvent' });
export type CampaignEvent = z.infer<typeof CampaignEvent>;
