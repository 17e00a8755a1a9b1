import { type CampaignCounts } from '@castforge/schemas';
import { type Ledger } from '../load/ledger';
import { type RedisAudit } from '../redis-audit';
import { type Delivery } from '../world/webhook-receiver';
import { type FinalJob, type ReadBack } from './read-back';

export interface Verdict {
  name: string;
  pass: boolean;
  /** One line of figures behind the verdict. */
  figure: string;
  /** A few concrete cases when it fails (ids and what was seen). */
  examples: string[];
}

export interface Evidence {
  ledger: Ledger;
  readBack: ReadBack;
  deliveries: readonly Delivery[];
  audit: RedisAudit;
  gpuCalls: number;
  callsByJob: ReadonlyMap<string, number>;
  /** Kills of worker processes, and Redis restarts (each can strand every worker's running jobs). */
  kills: number;
  redisRestarts: number;
  workers: number;
  slotsPerWorker: number;
  /** Exits of API or worker processes that nobody asked for. */
  crashes: string[];
  /** Delivery-record statuses (GET /webhooks/v1/deliveries) of jobs whose event never arrived. */
  deliveryLogs: ReadonlyMap<string, string[]>;
}

export function deliveriesByJob(deliveries: readonly Delivery[]): Map<string, Delivery[]> {
  const byJob = new Map<string, Delivery[]>();
  for (const d of deliveries)
    if (d.jobId && d.event.startsWith('job.'))
      (byJob.get(d.jobId) ?? byJob.set(d.jobId, []).get(d.jobId)!).push(d);
  return byJob;
}

/**
 * The ended jobs that owe their callback an event: every one with a callback URL (its own, or its
 * campaign's), except a campaign job that never started and was cancelled with its campaign, which the
 * campaign.completed event counts instead (README, Campaigns). The fuzzer's jobs are left out.
 */
export function jobsOwingAnEvent(e: Pick<Evidence, 'ledger' | 'readBack'>): FinalJob[] {
  const campaignCallback = new Map([...e.ledger.campaigns.values()].map((c) => [c.campaignId, c.callback]));
  const cancelledAlone = new Set(
    [...e.ledger.jobs.values()].filter((j) => j.cancel?.answer === 202).map((j) => j.jobId),
  );
  return [...e.readBack.jobs.values()].filter((job) => {
    if (!TERMINAL.has(job.status)) return false;
    const entry = e.ledger.jobs.get(job.jobId);
    if (entry?.source === 'fuzz') return false;
    const callback = entry?.callback ?? (job.campaignId ? campaignCallback.get(job.campaignId) : null);
    if (!callback) return false;
    return !(
      job.campaignId &&
      job.status === 'cancelled' &&
      !job.startedAt &&
      !cancelledAlone.has(job.jobId)
    );
  });
}

export const TERMINAL = new Set(['completed', 'failed', 'cancelled']);
export const COUNT_KEYS: (keyof CampaignCounts)[] = [
  'queued',
  'pending',
  'processing',
  'completed',
  'failed',
  'cancelled',
];

export function tally(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}
export const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
export const fmt = (r: Record<string, number> | object) =>
  Object.entries(r)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ') || '—';
