import { z } from 'zod';
import { CampaignId, ProfileId } from './common';
import { OperationName } from './operations';

/**
 * What BullMQ carries for a job (STYLE: parsed with zod where the worker reads it). A single job carries its
 * operation and request (without its callback URL, metadata and input image URLs, which live sealed in its
 * status record and go when it ends); a campaign job carries only its campaign and index, since a campaign's
 * scenes and roster are stored once. A cancelled single job's request is replaced by `{kind: 'cancelled'}`
 * (zero data retention) until a worker reaches it and drops it.
 */
export const SingleJobPayload = z.object({
  kind: z.literal('single'),
  op: OperationName.default('generate'),
  request: z.record(z.string(), z.unknown()),
  profile: z.object({ id: ProfileId, version: z.number().int().min(1) }).optional(),
  /** The job has input images (sealed in its record): the worker reads them only then. */
  inputs: z.literal(true).optional(),
});
export type SingleJobPayload = z.infer<typeof SingleJobPayload>;

export const CampaignJobPayload = z.object({
  kind: z.literal('campaign'),
  c: CampaignId,
  i: z.number().int().min(0),
});
export type CampaignJobPayload = z.infer<typeof CampaignJobPayload>;

export const CancelledJobPayload = z.object({ kind: z.literal('cancelled') });

export const JobPayload = z.discriminatedUnion('kind', [
  SingleJobPayload,
  CampaignJobPayload,
  CancelledJobPayload,
]);
export type JobPayload = z.infer<typeof JobPayload>;

export const GENERATE_JOB_NAME = 'generate';
