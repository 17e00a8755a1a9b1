import {
  type Campaign,
  type CampaignJobList,
  type CampaignQueuedResponse,
  type ErrorResponse,
  type Profile,
  type ProfileList,
} from '@castforge/schemas';

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    /** Partial: a proxy in front of the API may answer with a body of its own. */
    readonly body: Partial<ErrorResponse> | null,
  ) {
    super(body?.message ? `${status} ${body.error_code ?? ''}: ${body.message}` : `HTTP ${status}`);
  }
}

/** A small typed client of the castforge HTTP API, on Node's fetch. */
export function createClient(options: { baseUrl: string; apiKey: string }) {
  const base = options.baseUrl.replace(/\/+$/, '');

  async function call<T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<T> {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        'X-API-Key': options.apiKey,
        ...(body !== undefined && { 'Content-Type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    const parsed = text ? (JSON.parse(text) as unknown) : null;
    if (!res.ok) throw new ApiError(res.status, parsed as ApiError['body']);
    return parsed as T;
  }

  return {
    base,
    async allProfiles(): Promise<Profile[]> {
      const all: Profile[] = [];
      let cursor: string | null = null;
      do {
        const page: ProfileList = await call(
          'GET',
          `/profiles/v1?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        );
        all.push(...page.profiles);
        cursor = page.next_cursor;
      } while (cursor);
      return all;
    },
    createProfile: (body: unknown) => call<Profile>('POST', '/profiles/v1', body),
    createCampaign: (body: unknown, idempotencyKey: string) =>
      call<CampaignQueuedResponse>('POST', '/campaigns/v1', body, { 'Idempotency-Key': idempotencyKey }),
    campaign: (id: string) => call<Campaign>('GET', `/campaigns/v1/${id}`),
    cancelCampaign: (id: string) => call<Campaign>('POST', `/campaigns/v1/${id}/cancel`),
    campaignJobs: (id: string, query: { status?: string; cursor?: string | null; limit?: number }) =>
      call<CampaignJobList>(
        'GET',
        `/campaigns/v1/${id}/jobs?limit=${query.limit ?? 100}${query.status ? `&status=${query.status}` : ''}${
          query.cursor ? `&cursor=${query.cursor}` : ''
        }`,
      ),
    /** Result links are signed; they need no API key. */
    async download(url: string): Promise<Buffer> {
      const res = await fetch(url);
      if (!res.ok) throw new ApiError(res.status, null);
      return Buffer.from(await res.arrayBuffer());
    },
  };
}
export type Client = ReturnType<typeof createClient>;
