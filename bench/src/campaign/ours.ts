import { type HttpClient } from '../support/http';
import { type CampaignShape, campaignBody, profileBody } from './shape';

/** Creates the roster over HTTP, one profile after another, as a client would; returns their ids. */
export async function createRoster(http: HttpClient, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let n = 1; n <= count; n++) {
    const reply = await http.post('/profiles/v1', profileBody(n));
    if (reply.status !== 201) throw new Error(`POST /profiles/v1: HTTP ${reply.status}`);
    ids.push((reply.body as { profile_id: string }).profile_id);
  }
  return ids;
}

export interface Submitted {
  campaignId: string;
  jobCount: number;
  /** From sending the request to the 202, which the API sends once every job is in BullMQ. */
  seconds: number;
}

/** POST /campaigns/v1, timed from the request to the 202. */
export async function submitCampaign(
  http: HttpClient,
  name: string,
  profileIds: string[],
  shape: CampaignShape,
): Promise<Submitted> {
  const body = campaignBody(name, profileIds, shape);
  const started = performance.now();
  const reply = await http.post('/campaigns/v1', body);
  const seconds = (performance.now() - started) / 1000;
  if (reply.status !== 202) {
    throw new Error(`POST /campaigns/v1: HTTP ${reply.status} ${JSON.stringify(reply.body).slice(0, 300)}`);
  }
  const created = reply.body as { campaign_id: string; job_count: number };
  return { campaignId: created.campaign_id, jobCount: created.job_count, seconds };
}
