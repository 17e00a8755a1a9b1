import { z } from 'zod';
import { type RouteDoc, type WebhookDoc } from './openapi';
import {
  Campaign,
  CampaignCreate,
  CampaignEvent,
  CampaignJobList,
  CampaignJobsQuery,
  CampaignList,
  CampaignListQuery,
  CampaignQueuedResponse,
} from './campaigns';
import { jobRoutes, surfaceRoutes } from './job-routes';
import { Profile, ProfileCreate, ProfileList, ProfileListQuery, ProfilePatch } from './profiles';
import { Delivery, DeliveryList, DeliveryListQuery, JobEvent, WebhookSecret } from './webhooks';

const profileParams = z.object({ profile_id: z.string().meta({ description: 'prof_ + 16 hex digits' }) });
const etag = { ETag: 'The profile version, quoted: "3"' };
const campaignParams = z.object({ campaign_id: z.string().meta({ description: 'camp_ + 16 hex digits' }) });
const idempotencyKey = {
  name: 'Idempotency-Key',
  description: '(ext) same key and body within 24 h → the first answer, no new work; another body → 409',
};
const ifMatch = {
  name: 'If-Match',
  description: 'Apply only if the profile is still at this version ("3"); otherwise 412',
};

/** Every route of the API, as documented in /openapi.json. The Express routers implement these. */
export const routes: RouteDoc[] = [
  {
    method: 'post',
    path: '/profiles/v1',
    summary: 'Create an identity profile',
    tag: 'Profiles',
    body: ProfileCreate,
    responses: { 201: { description: 'The profile', schema: Profile, headers: etag } },
  },
  {
    method: 'get',
    path: '/profiles/v1',
    summary: "List the tenant's profiles, newest first",
    tag: 'Profiles',
    query: ProfileListQuery,
    responses: { 200: { description: 'A page of profiles', schema: ProfileList } },
  },
  {
    method: 'get',
    path: '/profiles/v1/{profile_id}',
    summary: 'Get a profile',
    tag: 'Profiles',
    params: profileParams,
    responses: { 200: { description: 'The profile', schema: Profile, headers: etag } },
  },
  {
    method: 'patch',
    path: '/profiles/v1/{profile_id}',
    summary: 'Update a profile partially; null clears a field; every update adds 1 to version',
    tag: 'Profiles',
    params: profileParams,
    headers: [ifMatch],
    body: ProfilePatch,
    responses: { 200: { description: 'The profile at its new version', schema: Profile, headers: etag } },
    errors: [409, 412],
  },
  {
    method: 'delete',
    path: '/profiles/v1/{profile_id}',
    summary: 'Delete a profile; queued jobs still finish with their pinned version',
    tag: 'Profiles',
    params: profileParams,
    headers: [ifMatch],
    responses: { 204: { description: 'Deleted' } },
    errors: [412],
  },
  {
    method: 'get',
    path: '/profiles/v1/{profile_id}/versions/{version}',
    summary: 'Get an immutable past version of a profile (ext)',
    tag: 'Profiles',
    params: profileParams.extend({ version: z.string().regex(/^\d+$/) }),
    responses: { 200: { description: 'The profile as it was at that version', schema: Profile } },
  },
  ...jobRoutes,
  ...surfaceRoutes,
  {
    method: 'get',
    path: '/results/v1/{file}',
    summary: 'A result image, through its signed, expiring link (no API key)',
    tag: 'Results',
    public: true,
    rateLimited: false,
    params: z.object({ file: z.string().meta({ description: '<job_id>.<png|jpeg|webp>' }) }),
    query: z.object({ expires: z.string(), sig: z.string() }),
    responses: {
      200: {
        description: 'The image',
        schema: z.string().meta({ format: 'binary' }),
        contentType: 'image/*',
      },
      410: { description: 'The link expired; the image was deleted' },
    },
  },
  {
    method: 'post',
    path: '/campaigns/v1',
    summary: 'Run scenes across a roster of profiles (ext)',
    tag: 'Campaigns',
    headers: [idempotencyKey],
    body: CampaignCreate,
    responses: { 202: { description: 'Every job is queued', schema: CampaignQueuedResponse } },
    errors: [409, 429],
  },
  {
    method: 'get',
    path: '/campaigns/v1',
    summary: "The tenant's campaigns, newest first (ext)",
    tag: 'Campaigns',
    query: CampaignListQuery,
    responses: { 200: { description: 'A page of campaigns', schema: CampaignList } },
  },
  {
    method: 'get',
    path: '/campaigns/v1/{campaign_id}',
    summary: 'Counts per status, progress and ETA, at constant cost (ext)',
    tag: 'Campaigns',
    params: campaignParams,
    responses: { 200: { description: 'The campaign', schema: Campaign } },
  },
  {
    method: 'get',
    path: '/campaigns/v1/{campaign_id}/jobs',
    summary: "A page of a campaign's jobs in order, optionally of one status (ext)",
    tag: 'Campaigns',
    params: campaignParams,
    query: CampaignJobsQuery,
    responses: {
      200: { description: 'A page of jobs', schema: CampaignJobList },
      410: { description: "The campaign's job list is no longer kept" },
    },
  },
  {
    method: 'post',
    path: '/campaigns/v1/{campaign_id}/cancel',
    summary: 'Cancel every job of the campaign not yet ended (ext)',
    tag: 'Campaigns',
    params: campaignParams,
    responses: { 202: { description: 'The campaign', schema: Campaign } },
    errors: [409],
  },
  {
    method: 'get',
    path: '/webhooks/v1/secret',
    summary: "The tenant's webhook signing secret (whsec_…)",
    tag: 'Webhooks',
    responses: { 200: { description: 'The secret', schema: WebhookSecret } },
  },
  {
    method: 'post',
    path: '/webhooks/v1/secret/rotate',
    summary: 'A new secret; events carry signatures by both for 24 h',
    tag: 'Webhooks',
    responses: { 200: { description: 'The new secret', schema: WebhookSecret } },
  },
  {
    method: 'get',
    path: '/webhooks/v1/deliveries',
    summary: 'Every delivery attempt of a job or campaign event (ext)',
    tag: 'Webhooks',
    query: DeliveryListQuery,
    responses: { 200: { description: 'The deliveries', schema: DeliveryList } },
  },
  {
    method: 'post',
    path: '/webhooks/v1/deliveries/{delivery_id}/redeliver',
    summary: 'Send a delivered or dead event again, same webhook-id (ext)',
    tag: 'Webhooks',
    params: z.object({ delivery_id: z.string() }),
    responses: { 202: { description: 'Queued again', schema: Delivery } },
    errors: [409],
  },
  {
    method: 'get',
    path: '/webhooks/event-schema',
    summary: 'The JSON Schema of the webhook event',
    tag: 'Webhooks',
    responses: { 200: { description: 'JSON Schema 2020-12', schema: z.record(z.string(), z.unknown()) } },
  },
  {
    method: 'get',
    path: '/healthz',
    summary: 'Liveness',
    tag: 'Operations',
    public: true,
    responses: {
      200: { description: 'The process is alive', schema: z.object({ status: z.literal('ok') }) },
    },
  },
  {
    method: 'get',
    path: '/readyz',
    summary: 'Readiness: Redis and MongoDB answer',
    tag: 'Operations',
    public: true,
    responses: {
      200: {
        description: 'Ready',
        schema: z.object({ status: z.string(), checks: z.record(z.string(), z.string()) }),
      },
      503: {
        description: 'A dependency is down',
        schema: z.object({ status: z.string(), checks: z.record(z.string(), z.string()) }),
      },
    },
  },
  {
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics',
    tag: 'Operations',
    public: true,
    responses: {
      200: { description: 'Prometheus text format', schema: z.string(), contentType: 'text/plain' },
    },
  },
  {
    method: 'get',
    path: '/openapi.json',
    summary: 'This document',
    tag: 'Operations',
    public: true,
    responses: { 200: { description: 'OpenAPI 3.1', schema: z.record(z.string(), z.unknown()) } },
  },
];

/** What a receiver may answer to an event (SPEC §6), and what the worker then does. */
const receiverAnswers = {
  '2XX': 'Delivered: any 2xx acknowledges the event',
  '410': 'Gone: the receiver asks not to be called again; the delivery ends at once (dead)',
  '4XX': 'Not delivered: retried on the back-off schedule until the attempts run out (then dead)',
  '5XX': 'Not delivered: retried on the back-off schedule until the attempts run out (then dead)',
};

/** The events POSTed to callback URLs, signed per Standard Webhooks (webhook-id, -timestamp, -signature). */
export const webhooks: WebhookDoc[] = [
  {
    name: 'job.ended',
    summary: "A job ended (completed, failed or cancelled): sent to the job's callback_url",
    body: JobEvent,
    responses: receiverAnswers,
  },
  {
    name: 'campaign.completed',
    summary: "A campaign's last job ended (ext): sent to the campaign's callback_url",
    body: CampaignEvent,
    responses: receiverAnswers,
  },
];
