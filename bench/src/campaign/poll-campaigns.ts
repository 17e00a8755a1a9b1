import { createCampaignRepository, createCampaignState, redisKeys } from '@castforge/core';
import { type BenchApi } from '../support/api';
import { type HttpClient } from '../support/http';
import { count } from '../support/report';
import { type BenchServices } from '../support/services';
import { type Probe, type Summary } from '../support/stats';
import { submitCampaign } from './ours';
import { FLOOR_LABEL, getCampaign, getFloor, interleavedPolls } from './polls';
import { type CampaignShape, describeShape, jobsOf } from './shape';
import { TENANT } from './sides';

export type PollRole = 'measured' | 'control' | 'context' | 'floor';

export interface PollRow {
  role: PollRole;
  label: string;
  jobs: number | null;
  shape: string | null;
  /** GET over HTTP, the figure. */
  http: Summary;
  /**
   * What a GET reads, timed directly in this process: the campaign hash in Redis (CampaignState.read) while
   * the campaign is live, and the MongoDB document it falls back to afterwards (CampaignRepository.get).
   */
  parts: {
    mongoSummary: Summary;
    redisRead: Summary;
    summaryJsonBytes: number;
    /** JSON bytes of each field of the summary document, largest first: what the read carries. */
    summaryFieldBytes: Record<string, number>;
  } | null;
}

interface Polled {
  role: PollRole;
  label: string;
  campaignId: string;
  shape: CampaignShape;
}

/**
 * While the measured campaign is queued: a small campaign beside it (the context row) and, when
 * the measured one has variants, a control with its roster (same profiles and scenes) and one variant. The
 * control separates what grows with the job count from what grows with the roster. All are polled over HTTP
 * with the floor, and their two reads timed directly, interleaved.
 */
export async function pollCampaigns(
  services: BenchServices,
  side: { prefix: string; api: BenchApi; http: HttpClient; profileIds: string[] },
  measured: { campaignId: string; shape: CampaignShape },
  options: { contextShape: CampaignShape; polls: number },
): Promise<PollRow[]> {
  const { http, profileIds } = side;
  const submit = async (role: PollRole, label: string, shape: CampaignShape): Promise<Polled> => ({
    role,
    label,
    shape,
    campaignId: (await submitCampaign(http, `bench ${jobsOf(shape)}`, profileIds, shape)).campaignId,
  });
  const { shape } = measured;
  const campaigns: Polled[] = [
    { role: 'measured', label: `${count(jobsOf(shape))} jobs (measured)`, ...measured },
  ];
  if (shape.variants > 1) {
    const control = { ...shape, variants: 1 };
    campaigns.push(
      await submit('control', `${count(jobsOf(control))} jobs (same roster, 1 variant)`, control),
    );
  }
  const context = options.contextShape;
  campaigns.push(await submit('context', `${count(jobsOf(context))} jobs (context)`, context));

  const repository = createCampaignRepository(services.mongo);
  const state = createCampaignState({
    redis: side.api.redis,
    keys: redisKeys(side.prefix),
    ids: side.api.deps.jobs.ids,
    retentionSeconds: side.api.deps.config.RESULT_TTL_SECONDS,
  });
  // The MongoDB document GET falls back to once a campaign's live state is forgotten (not read while live).
  const summaryOf = (c: Polled) => () => repository.get(TENANT, c.campaignId);
  const readOf = (c: Polled) => async () => {
    const live = await state.read(TENANT, c.campaignId);
    if (live?.counts.queued !== jobsOf(c.shape))
      throw new Error(`campaign ${c.campaignId}: ${JSON.stringify(live)}`);
    return live;
  };
  const probes: Probe[] = [
    ...campaigns.map((c) => getCampaign(http, c.campaignId, jobsOf(c.shape))),
    getFloor(http),
    ...campaigns.map(summaryOf),
    ...campaigns.map(readOf),
  ];
  const latencies = await interleavedPolls(probes, options.polls);
  const n = campaigns.length;
  const rows: PollRow[] = [];
  for (const [i, c] of campaigns.entries()) {
    const doc = (await summaryOf(c)()) as unknown as Record<string, unknown>;
    const fields = Object.entries(doc).map(
      ([k, v]) => [k, Buffer.byteLength(JSON.stringify(v) ?? '')] as const,
    );
    rows.push({
      role: c.role,
      label: c.label,
      jobs: jobsOf(c.shape),
      shape: describeShape(c.shape),
      http: latencies[i]!,
      parts: {
        mongoSummary: latencies[n + 1 + i]!,
        redisRead: latencies[2 * n + 1 + i]!,
        summaryJsonBytes: Buffer.byteLength(JSON.stringify(doc)),
        summaryFieldBytes: Object.fromEntries(fields.sort((a, b) => b[1] - a[1])),
      },
    });
  }
  rows.push({ role: 'floor', label: FLOOR_LABEL, jobs: null, shape: null, http: latencies[n]!, parts: null });
  return rows;
}
