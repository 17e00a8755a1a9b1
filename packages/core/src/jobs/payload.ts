import { GenerateImageRequest, ProfileId } from '@castforge/schemas';
import { z } from 'zod';

/**
 * What BullMQ carries for a job (STYLE: parsed with zod where the worker reads it). A single job carries
 * its request; a campaign job carries only its campaign and index, since a campaign's scenes and roster
 * are stored once (issue #5). The callback URL and metadata live in the status record, not here.
 */
export const SingleJobPayload = z.object({
  kind: z.literal('single'),
  request: GenerateImageRequest.omit({ callback_url: true, metadata: true, profile_id: true }),
  profile: z.object({ id: ProfileId, version: z.number().int().min(1) }).optional(),
});
export type SingleJobPayload = z.infer<typeof SingleJobPayload>;

export const CampaignJobPayload = z.object({
  kind: z.literal('campaign'),
  c: z.string(),
  i: z.number().int().min(0),
});
export type CampaignJobPayload = z.infer<typeof CampaignJobPayload>;

export const JobPayload = z.discriminatedUnion('kind', [SingleJobPayload, CampaignJobPayload]);
export type JobPayload = z.infer<typeof JobPayload>;

export const GENERATE_JOB_NAME = 'generate';
