/** Where a job came from: the load driver's single jobs, a campaign, or a 202 the fuzzer provoked. */
export type JobSource = 'single' | 'campaign' | 'fuzz';
/** Which receiver a callback goes to: one that always answers 2xx, or one that answers 500 first. */
export type CallbackKind = 'ok' | 'flaky';

export interface CancelAsked {
  /** What the driver meant to cancel: a job just queued, one seen processing, a waiting campaign job. */
  kind: 'queued' | 'running' | 'campaign-job';
  /** The API's answer (202, or 409 when it had ended meanwhile). */
  answer: number;
}

export interface JobEntry {
  jobId: string;
  tenant: string;
  source: JobSource;
  campaignId: string | null;
  callback: CallbackKind | null;
  priority: number;
  /** Submitted with `[[hold:…]]`: seconds on a GPU, so kills and cancels land on it mid-run. */
  held: boolean;
  cancel: CancelAsked | null;
}

export interface CampaignEntry {
  campaignId: string;
  tenant: string;
  source: JobSource;
  jobCount: number;
  callback: CallbackKind | null;
  /** The answer to POST …/cancel, when the driver cancelled it. */
  cancelAnswer: number | null;
}

/**
 * Everything the run submitted and was told was accepted (202), which is what the invariants are checked
 * against. A submit that never got an answer, even after retries with the same Idempotency-Key, is
 * counted in `lostSubmits`: the job may exist, but nobody was promised anything about it.
 */
export function createLedger() {
  const jobs = new Map<string, JobEntry>();
  const campaigns = new Map<string, CampaignEntry>();
  const counters = {
    submits: 0,
    /** Submits answered only after a retry (5xx or no answer first), with the same Idempotency-Key. */
    retriedSubmits: 0,
    lostSubmits: 0,
    /** The most jobs the never-answered submits could have made (1 per job, profiles × scenes × variants per campaign). */
    lostJobsAtMost: 0,
    /** Submits refused with a 4xx: the driver only sends valid requests, so each is a finding. */
    rejectedSubmits: 0,
    /** Same Idempotency-Key and body sent again: answers that named the same job, and those that did not. */
    replays: 0,
    replayMismatches: 0,
  };
  return {
    jobs,
    campaigns,
    counters,
    addJob(entry: Omit<JobEntry, 'cancel'>) {
      jobs.set(entry.jobId, { ...entry, cancel: null });
    },
    addCampaign(entry: Omit<CampaignEntry, 'cancelAnswer'>) {
      campaigns.set(entry.campaignId, { ...entry, cancelAnswer: null });
    },
    /** Jobs submitted one by one plus every campaign's jobs. */
    totalJobs(): number {
      let total = 0;
      for (const entry of jobs.values()) if (entry.source !== 'campaign') total += 1;
      for (const campaign of campaigns.values()) total += campaign.jobCount;
      return total;
    },
  };
}
export type Ledger = ReturnType<typeof createLedger>;
