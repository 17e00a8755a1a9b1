import {
  COUNT_KEYS,
  type Evidence,
  TERMINAL,
  type Verdict,
  deliveriesByJob,
  fmt,
  jobsOwingAnEvent,
  sum,
  tally,
} from './evidence';
import { type FinalJob } from './read-back';

export { type Evidence, type Verdict, deliveriesByJob, fmt, jobsOwingAnEvent } from './evidence';

const verdict = (name: string, problems: string[], figure: string): Verdict => ({
  name,
  pass: problems.length === 0,
  figure: problems.length ? `${figure}; ${problems.length} problem(s)` : figure,
  examples: problems.slice(0, 5),
});

/** Every job the ledger knows: single and fuzz jobs by id, campaign jobs from their listings. */
function everyJob(e: Evidence): FinalJob[] {
  return [...e.readBack.jobs.values()];
}

/**
 * The invariants of issue #8, each checked against what the run submitted (the ledger) and what the
 * deployment says afterwards (the API, the webhook receiver, the GPU stubs, Redis via redis-audit.ts).
 */
export function checkInvariants(e: Evidence): Verdict[] {
  const jobs = everyJob(e);
  const expectedJobs = e.ledger.totalJobs();
  const out: Verdict[] = [];

  // 1. Every accepted job ends.
  {
    const problems: string[] = [];
    const open = jobs.filter((j) => !TERMINAL.has(j.status));
    for (const j of open.slice(0, 5)) problems.push(`${j.jobId} is ${j.status} (attempts ${j.attempts})`);
    if (open.length > 5) problems.push(`… ${open.length} jobs in all are not terminal`);
    const byStatus = tally(open.map((j) => j.status));
    if (jobs.length < expectedJobs)
      problems.push(`${expectedJobs - jobs.length} accepted jobs are not listed at all`);
    out.push(
      verdict(
        'every job terminal',
        problems,
        `${jobs.length - open.length}/${expectedJobs} terminal${open.length ? ` (open: ${fmt(byStatus)})` : ''}`,
      ),
    );
  }

  // 2. Nothing counted twice.
  {
    const problems: string[] = [];
    const c = e.ledger.counters;
    if (c.replayMismatches)
      problems.push(`${c.replayMismatches}/${c.replays} idempotent replays named another job`);
    for (const [tenant, n] of Object.entries(e.audit.inflight))
      if (n < 0) problems.push(`in-flight of ${tenant} is ${n}`);
    for (const [state, n] of Object.entries(e.audit.stats))
      if (n < 0) problems.push(`stats ${state} is ${n}`);
    for (const camp of e.readBack.campaigns.values()) {
      if (!camp.view) continue;
      const listed = tally(camp.jobs.map((j) => j.status));
      const ids = new Set(camp.jobs.map((j) => j.jobId));
      if (ids.size !== camp.jobs.length)
        problems.push(`${camp.campaignId} lists ${camp.jobs.length - ids.size} jobs twice`);
      for (const k of COUNT_KEYS) {
        if ((camp.view.counts[k] ?? 0) !== (listed[k] ?? 0))
          problems.push(`${camp.campaignId} counts ${k}=${camp.view.counts[k]} but lists ${listed[k] ?? 0}`);
      }
    }
    // A job that ended once has one event; two webhook-ids for one job means it ended twice.
    const idsByJob = new Map<string, Set<string>>();
    for (const d of e.deliveries)
      if (d.jobId && d.event.startsWith('job.'))
        (idsByJob.get(d.jobId) ?? idsByJob.set(d.jobId, new Set()).get(d.jobId)!).add(d.webhookId);
    for (const [jobId, ids] of idsByJob)
      if (ids.size > 1) problems.push(`${jobId} sent ${ids.size} different events`);
    // A job the GPU ran that no accepted request made: a campaign enqueued twice, or a job left behind by a
    // request that failed after it had created it (and was then retried).
    const orphans = [...e.callsByJob.keys()].filter((id) => !e.readBack.jobs.has(id));
    if (orphans.length > c.lostJobsAtMost)
      problems.push(
        `${orphans.length} jobs ran on a GPU that no accepted request made (unanswered submits explain at most ${c.lostJobsAtMost}): ${orphans.slice(0, 3).join(', ')}`,
      );
    out.push(
      verdict(
        'no job counted twice',
        problems,
        `${c.replays} replays, ${idsByJob.size} jobs with events, ${orphans.length} GPU runs of unknown jobs`,
      ),
    );
  }

  // 3. Campaign counts add up; every campaign completed, once.
  {
    const problems: string[] = [];
    let done = 0;
    for (const camp of e.readBack.campaigns.values()) {
      if (!camp.view) {
        problems.push(`${camp.campaignId}: ${camp.problem}`);
        continue;
      }
      const v = camp.view;
      const sum = COUNT_KEYS.reduce((s, k) => s + (v.counts[k] ?? 0), 0);
      if (sum !== v.job_count)
        problems.push(`${v.campaign_id} counts sum to ${sum}, job_count ${v.job_count}`);
      if (camp.jobs.length !== v.job_count)
        problems.push(`${v.campaign_id} lists ${camp.jobs.length}/${v.job_count} jobs`);
      if (v.status === 'running' || !v.finished_at)
        problems.push(`${v.campaign_id} is ${v.status} (${fmt(v.counts)})`);
      else done += 1;
    }
    out.push(
      verdict(
        'campaign counts add up, each campaign completed',
        problems,
        `${done}/${e.readBack.campaigns.size} campaigns ended`,
      ),
    );
  }

  // 4. campaign.completed once per campaign (with a callback), agreeing with the final counts.
  {
    const problems: string[] = [];
    let withCallback = 0;
    for (const entry of e.ledger.campaigns.values()) {
      const events = e.deliveries.filter(
        (d) => d.event === 'campaign.completed' && d.campaignId === entry.campaignId,
      );
      const ids = new Set(events.map((d) => d.webhookId));
      if (!entry.callback) {
        if (ids.size)
          problems.push(`${entry.campaignId} has no callback but sent ${ids.size} campaign.completed`);
        continue;
      }
      withCallback += 1;
      if (ids.size !== 1)
        problems.push(`${entry.campaignId}: ${ids.size} campaign.completed events (want 1)`);
      else if (!events.some((d) => d.answered < 300))
        problems.push(`${entry.campaignId}: campaign.completed never accepted`);
      const final = e.readBack.campaigns.get(entry.campaignId)?.view;
      const last = events.at(-1);
      if (final && last?.counts && COUNT_KEYS.some((k) => last.counts![k] !== final.counts[k]))
        problems.push(`${entry.campaignId}: event counts ${fmt(last.counts)} ≠ final ${fmt(final.counts)}`);
    }
    out.push(
      verdict('campaign.completed once per campaign', problems, `${withCallback} campaigns with a callback`),
    );
  }

  // 5. Every ended job with a callback: delivered at least once, with one webhook-id, saying how it ended.
  {
    const problems: string[] = [];
    const byJob = deliveriesByJob(e.deliveries);
    const expected = jobsOwingAnEvent(e);
    let delivered = 0;
    const why = { lost: 0, pending: 0, failing: 0 };
    for (const job of expected) {
      const got = byJob.get(job.jobId) ?? [];
      const ids = new Set(got.map((d) => d.webhookId));
      if (got.some((d) => d.answered < 300)) delivered += 1;
      else {
        // The delivery log (GET /webhooks/v1/deliveries) tells an event never recorded from one not yet sent.
        const log = e.deliveryLogs.get(job.jobId);
        const reason = got.length ? 'failing' : log === undefined || log.length ? 'pending' : 'lost';
        why[reason] += 1;
        const record = `record ${log?.join('/') || 'not read'}`;
        const said =
          reason === 'lost'
            ? 'no delivery record: the event was never queued'
            : reason === 'pending'
              ? `${record}, never attempted`
              : `${got.length} attempt(s) answered 500 and no retry came (${record})`;
        problems.push(`${job.jobId} (${job.status}) not delivered: ${said}`);
      }
      if (ids.size > 1) problems.push(`${job.jobId}: ${ids.size} webhook-ids`);
      const said = got.at(-1)?.status;
      if (said && said !== job.status)
        problems.push(`${job.jobId}: event says ${said}, status is ${job.status}`);
    }
    out.push(
      verdict(
        'every ended job with a callback delivered, one webhook-id',
        problems,
        `${delivered}/${expected.length} delivered${why.lost + why.pending + why.failing ? ` (never queued ${why.lost}, queued but never attempted ${why.pending}, refused ${why.failing})` : ''}`,
      ),
    );
  }

  // 6. Signatures.
  {
    const bad = e.deliveries.filter((d) => !d.signatureOk);
    out.push(
      verdict(
        'every delivery signed (Standard Webhooks)',
        bad.slice(0, 5).map((d) => `${d.webhookId} to ${d.path} (${d.event || 'unreadable'})`),
        `${e.deliveries.length - bad.length}/${e.deliveries.length} verified`,
      ),
    );
  }

  // 7. In-flight counters back at zero.
  {
    const problems: string[] = [];
    for (const [tenant, n] of Object.entries(e.audit.inflight))
      if (n !== 0) problems.push(`in-flight of ${tenant} is ${n}`);
    for (const [state, n] of Object.entries(e.audit.stats))
      if (n !== 0) problems.push(`stats.${state} is ${n}`);
    for (const camp of e.readBack.campaigns.values()) {
      const c = camp.view?.counts;
      if (c && c.queued + c.pending + c.processing) problems.push(`${camp.campaignId} live counts ${fmt(c)}`);
    }
    out.push(
      verdict(
        'in-flight counters back at zero',
        problems,
        `inflight ${fmt(e.audit.inflight)}; stats ${fmt(e.audit.stats)}`,
      ),
    );
  }

  // 8. GPU calls bounded by jobs and faults.
  {
    // A killed worker wastes at most the calls on its GPU slots plus, per slot, one job whose call returned
    // and is being stored; a Redis restart can strand every worker's.
    const perWorker = 2 * e.slotsPerWorker;
    const allowance = (e.kills + e.redisRestarts * e.workers) * perWorker;
    // Jobs that unanswered submits may have made count as jobs too (at most).
    const bound = expectedJobs + e.ledger.counters.lostJobsAtMost + allowance;
    const rerun = [...e.callsByJob.values()].filter((n) => n > 1).length;
    const most = Math.max(0, ...e.callsByJob.values());
    out.push(
      verdict(
        'GPU calls ≤ jobs + kills × concurrency',
        e.gpuCalls > bound ? [`${e.gpuCalls} calls > ${bound}`] : [],
        `${e.gpuCalls} calls vs ${expectedJobs} jobs + ${e.ledger.counters.lostJobsAtMost} unanswered + (${e.kills} kills + ${e.redisRestarts} Redis restart × ${e.workers} workers) × ${perWorker} = ${bound}; ${rerun} jobs ran more than once (most ${most})`,
      ),
    );
  }

  // 9. Redis keys back to what the TTLs allow.
  {
    const k = e.audit.keys;
    out.push(
      verdict(
        'Redis keys: a TTL, or allow-listed',
        k.unexpectedCount
          ? [`${k.unexpectedCount} keys without TTL or place: ${k.unexpected.slice(0, 8).join(', ')}`]
          : [],
        `${k.total} keys: ${k.withTtl} with TTL, ${sum(k.permanent)} permanent, ${k.scheduled} scheduled for the sweeper`,
      ),
    );
  }

  // 10. No process died on its own.
  out.push(verdict('no API or worker died on its own', e.crashes, `${e.crashes.length} unplanned exits`));
  return out;
}
