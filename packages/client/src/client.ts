import createFetchClient from 'openapi-fetch';
import { apiError } from './errors';
import { type RetryOptions, retryingFetch } from './retry-fetch';
import {
  type Campaign,
  type CampaignCreate,
  type CampaignJobList,
  type CampaignQueued,
  type GenerateImageRequest,
  type JobQueued,
  type JobStatus,
  type JobStatusName,
  type Profile,
  type ProfileCreate,
  type ProfileList,
  type ProfilePatch,
  type WebhookDelivery,
  type paths,
} from './types';

export const GENERATE_ENDPOINT = '/generate/image/v1';

export interface ClientOptions {
  /** The API's base URL, e.g. http://localhost:8080 (a trailing slash is fine). In a page served by the API, its origin. */
  baseUrl: string;
  apiKey: string;
  /** Another fetch (tests, instrumentation); defaults to the global one. */
  fetch?: typeof fetch;
  retry?: RetryOptions;
}

/** The outcome of openapi-fetch: data on 2xx, else the body it read as the error. */
interface Outcome<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

async function ok<T>(call: Promise<Outcome<T>>): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) throw apiError(response, error);
  return data as T;
}

const quoted = (version: number | string) => `"${String(version).replace(/"/g, '')}"`;

/**
 * The typed client of the castforge API: every request and response type comes from the OpenAPI document
 * the server serves (generated at build time), requests go through openapi-fetch, and 429s (and 503s on
 * reads) are retried after the server's Retry-After. Works in Node 20+ and in browsers: no Node-only APIs.
 */
export function createCastforgeClient(options: ClientOptions) {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const send = retryingFetch(options.fetch, options.retry);
  const api = createFetchClient<paths>({ baseUrl, fetch: send, headers: { 'X-API-Key': options.apiKey } });

  const jobStatusPath = (endpoint: string) =>
    // Every operation's status and cancel share the generate endpoint's shapes (SPEC §3b, §4), so the typed
    // generate routes stand for all of them; the endpoint part of the path is filled in here.
    ({
      status: `${endpoint}/status/{job_id}` as '/generate/image/v1/status/{job_id}',
      cancel: `${endpoint}/cancel/{job_id}` as '/generate/image/v1/cancel/{job_id}',
    });

  return {
    baseUrl,
    /** The underlying openapi-fetch client, for routes without a helper here. */
    api,

    profiles: {
      list: (query: { limit?: number; cursor?: string; tag?: string } = {}) =>
        ok<ProfileList>(api.GET('/profiles/v1', { params: { query } })),
      /** Every profile of the tenant, page after page (newest first). */
      async all(query: { tag?: string } = {}): Promise<Profile[]> {
        const all: Profile[] = [];
        let cursor: string | undefined;
        do {
          const page = await ok<ProfileList>(
            api.GET('/profiles/v1', {
              params: { query: { ...query, limit: 100, ...(cursor && { cursor }) } },
            }),
          );
          all.push(...page.profiles);
          cursor = page.next_cursor ?? undefined;
        } while (cursor);
        return all;
      },
      get: (profileId: string) =>
        ok<Profile>(api.GET('/profiles/v1/{profile_id}', { params: { path: { profile_id: profileId } } })),
      create: (body: ProfileCreate) => ok<Profile>(api.POST('/profiles/v1', { body })),
      /** A partial update; with `ifMatch` (the version you read) a concurrent change answers 412. */
      update: (profileId: string, body: ProfilePatch, opts: { ifMatch?: number } = {}) =>
        ok<Profile>(
          api.PATCH('/profiles/v1/{profile_id}', {
            params: { path: { profile_id: profileId } },
            body,
            ...(opts.ifMatch !== undefined && { headers: { 'If-Match': quoted(opts.ifMatch) } }),
          }),
        ),
      delete: async (profileId: string, opts: { ifMatch?: number } = {}): Promise<void> => {
        await ok(
          api.DELETE('/profiles/v1/{profile_id}', {
            params: { path: { profile_id: profileId } },
            ...(opts.ifMatch !== undefined && { headers: { 'If-Match': quoted(opts.ifMatch) } }),
          }),
        );
      },
      /** The profile as it was at `version` (versions are immutable). */
      version: (profileId: string, version: number) =>
        ok<Profile>(
          api.GET('/profiles/v1/{profile_id}/versions/{version}', {
            params: { path: { profile_id: profileId, version: String(version) } },
          }),
        ),
    },

    jobs: {
      generate: (body: GenerateImageRequest, opts: { idempotencyKey?: string } = {}) =>
        ok<JobQueued>(
          api.POST('/generate/image/v1', {
            // The server fills in the defaulted fields (seed, priority) it is not sent.
            body: body,
            ...(opts.idempotencyKey && { headers: { 'Idempotency-Key': opts.idempotencyKey } }),
          }),
        ),
      status: (jobId: string, endpoint: string = GENERATE_ENDPOINT, signal?: AbortSignal) =>
        ok<JobStatus>(
          api.GET(jobStatusPath(endpoint).status, {
            params: { path: { job_id: jobId } },
            ...(signal && { signal }),
          }),
        ),
      cancel: (jobId: string, endpoint: string = GENERATE_ENDPOINT) =>
        ok<JobStatus>(api.POST(jobStatusPath(endpoint).cancel, { params: { path: { job_id: jobId } } })),
    },

    campaigns: {
      create: (body: CampaignCreate, opts: { idempotencyKey?: string } = {}) =>
        ok<CampaignQueued>(
          api.POST('/campaigns/v1', {
            body: body,
            ...(opts.idempotencyKey && { headers: { 'Idempotency-Key': opts.idempotencyKey } }),
          }),
        ),
      get: (campaignId: string, signal?: AbortSignal) =>
        ok<Campaign>(
          api.GET('/campaigns/v1/{campaign_id}', {
            params: { path: { campaign_id: campaignId } },
            ...(signal && { signal }),
          }),
        ),
      list: (query: { limit?: number; cursor?: string } = {}) =>
        ok<{ campaigns: Campaign[]; next_cursor: string | null }>(
          api.GET('/campaigns/v1', { params: { query } }),
        ),
      jobs: (
        campaignId: string,
        query: { status?: JobStatusName; limit?: number; cursor?: string } = {},
        signal?: AbortSignal,
      ) =>
        ok<CampaignJobList>(
          api.GET('/campaigns/v1/{campaign_id}/jobs', {
            params: { path: { campaign_id: campaignId }, query },
            ...(signal && { signal }),
          }),
        ),
      cancel: (campaignId: string) =>
        ok<Campaign>(
          api.POST('/campaigns/v1/{campaign_id}/cancel', { params: { path: { campaign_id: campaignId } } }),
        ),
    },

    webhooks: {
      /** Every delivery of a job's (or a campaign's) webhook event, with each attempt. */
      deliveries: (owner: { job_id: string } | { campaign_id: string }) =>
        ok<{ deliveries: WebhookDelivery[] }>(
          api.GET('/webhooks/v1/deliveries', { params: { query: owner } }),
        ),
    },

    /** The bytes behind a signed result link (no API key: the link carries its own signature). */
    async download(resultUrl: string, signal?: AbortSignal): Promise<Uint8Array> {
      const response = await send(new Request(resultUrl, signal ? { signal } : {}));
      if (!response.ok) throw apiError(response, await response.json().catch(() => null));
      return new Uint8Array(await response.arrayBuffer());
    },
  };
}
export type CastforgeClient = ReturnType<typeof createCastforgeClient>;
