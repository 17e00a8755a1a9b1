import { type Campaign, type CampaignJobList, type JobStatus } from '@castforge/schemas';
import { type Ledger } from '../load/ledger';
import { mapLimit } from '../support/pool';
import { type World } from '../world/world';

/** A job's end as the API reports it; `status` 'missing' when the API does not know the job (404). */
export interface FinalJob {
  jobId: string;
  tenant: string;
  campaignId: string | null;
  status: string;
  startedAt: string | null;
  attempts: number;
  failureReasonCode: string | null;
  error: string | null;
}

export interface FinalCampaign {
  campaignId: string;
  tenant: string;
  /** null when GET /campaigns/v1/{id} failed (then `problem` says how). */
  view: Campaign | null;
  /** Its jobs as GET …/jobs lists them, every page. */
  jobs: FinalJob[];
  problem: string | null;
}

const finalJob = (tenant: string, s: JobStatus): FinalJob => ({
  jobId: s.job_id,
  tenant,
  campaignId: s.campaign_id,
  status: s.status,
  startedAt: s.started_at,
  attempts: s.attempts,
  failureReasonCode: s.failure_reason_code,
  error: s.error,
});

/**
 * Reads back, over the public API, how every job and campaign of the ledger ended: each single job's
 * status, and each campaign with every page of its jobs.
 */
export async function readBack(world: World, ledger: Ledger) {
  const client = world.client;
  const jobs = new Map<string, FinalJob>();
  const singles = [...ledger.jobs.values()].filter((j) => j.source !== 'campaign');
  await mapLimit(singles, 16, async (entry) => {
    const answer = await client.request<JobStatus>('GET', `/generate/image/v1/status/${entry.jobId}`, {
      key: world.keys[entry.tenant],
    });
    jobs.set(
      entry.jobId,
      answer.status === 200
        ? finalJob(entry.tenant, answer.body)
        : {
            jobId: entry.jobId,
            tenant: entry.tenant,
            campaignId: null,
            status: answer.status === 404 ? 'missing' : `unreadable (${answer.status})`,
            startedAt: null,
            attempts: 0,
            failureReasonCode: null,
            error: null,
          },
    );
  });

  const campaigns = new Map<string, FinalCampaign>();
  await mapLimit([...ledger.campaigns.values()], 4, async (entry) => {
    const key = world.keys[entry.tenant];
    const final: FinalCampaign = {
      campaignId: entry.campaignId,
      tenant: entry.tenant,
      view: null,
      jobs: [],
      problem: null,
    };
    campaigns.set(entry.campaignId, final);
    const view = await client.request<Campaign>('GET', `/campaigns/v1/${entry.campaignId}`, { key });
    if (view.status !== 200) {
      final.problem = `GET /campaigns/v1/{id} answered ${view.status}`;
      return;
    }
    final.view = view.body;
    let cursor: string | null = '';
    while (cursor !== null) {
      const page: { status: number; body: CampaignJobList } = await client.request<CampaignJobList>(
        'GET',
        `/campaigns/v1/${entry.campaignId}/jobs?limit=100${cursor ? `&cursor=${cursor}` : ''}`,
        { key },
      );
      if (page.status !== 200) {
        final.problem = `GET /campaigns/v1/{id}/jobs answered ${page.status}`;
        return;
      }
      for (const job of page.body.jobs) {
        const ended = finalJob(entry.tenant, job);
        final.jobs.push(ended);
        jobs.set(job.job_id, ended);
      }
      cursor = page.body.next_cursor;
    }
  });
  return { jobs, campaigns };
}
export type ReadBack = Awaited<ReturnType<typeof readBack>>;

/** `queue_jobs{queue,state}` from the API's /metrics: the deployment's live jobs and webhook deliveries. */
export async function queueGauge(world: World): Promise<Record<string, number> | null> {
  const answer = await world.client.request<string>('GET', '/metrics', { timeoutMs: 5000 });
  if (answer.status !== 200 || typeof answer.body !== 'string') return null;
  const values: Record<string, number> = {};
  for (const m of answer.body.matchAll(/^queue_jobs\{([^}]*)\} (\S+)$/gm)) {
    const labels: Record<string, string> = Object.fromEntries(
      [...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!]),
    );
    values[`${labels.queue}.${labels.state}`] = Number(m[2]);
  }
  return values;
}

/**
 * The delivery log of each job whose event the receiver never accepted (at most `limit` of them):
 * an empty list means no event was ever recorded for it.
 */
export async function deliveryLogs(world: World, jobs: { jobId: string; tenant: string }[], limit = 200) {
  const logs = new Map<string, string[]>();
  await mapLimit(jobs.slice(0, limit), 8, async (job) => {
    const answer = await world.client.request<{ deliveries: { status: string }[] }>(
      'GET',
      `/webhooks/v1/deliveries?job_id=${job.jobId}`,
      { key: world.keys[job.tenant] },
    );
    if (answer.status === 200)
      logs.set(
        job.jobId,
        answer.body.deliveries.map((d) => d.status),
      );
  });
  return logs;
}
