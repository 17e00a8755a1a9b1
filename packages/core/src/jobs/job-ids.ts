import { hash } from 'node:crypto';

/**
 * Campaign and campaign-job ids without a lookup table.
 *
 * A campaign gets a deployment-wide number n (a Redis counter). Its id is `camp_` + P(n) and the id of its
 * job i is `job_` + P(n · 2^24 + i), where P is a keyed pseudo-random permutation of 64-bit values (a 4-round
 * Feistel network over SHA-1, keyed with a server secret). So:
 * - ids look as random as the single jobs' ones (`job_` + 16 hex from the CSPRNG) to anyone without the key;
 * - any process holding the key turns a job id back into (campaign, index) — the API to read the status of a
 *   campaign job that has no record yet, the worker to create its record when it starts (the scripts are
 *   given the campaign's keys and the index) — so nothing per job is stored to say which campaign it is;
 * - re-enqueuing an index always yields the same job id, so a campaign can be enqueued again after a crash or
 *   by two processes without making a second job (BullMQ ignores a known id, START ignores an ended job).
 *
 * 2^24 jobs per campaign (CAMPAIGN_MAX_JOBS is at most 10^7) and 2^40 campaigns per deployment.
 *
 */
export const INDEX_BITS = 24;
export const MAX_CAMPAIGN_NUMBER = 2 ** 40 - 1;
const ROUNDS = 4;
const HALF = 2 ** 32;
/** Job ids whose parse is remembered (about 100 B each); past it, all are forgotten at once. */
const PARSED_KEPT = 10_000;

/** One Feistel round: SHA-1 one-shot (`crypto.hash`); a status read of a job id runs four of these. */
function round(key: string, r: number, half: number): number {
  return parseInt(hash('sha1', `${key}:${r}:${half}`, 'hex').slice(0, 8), 16);
}

function toHalves(hex: string): [number, number] {
  return [parseInt(hex.slice(0, 8), 16), parseInt(hex.slice(8, 16), 16)];
}

const hex8 = (n: number) => n.toString(16).padStart(8, '0');

function encrypt(key: string, left: number, right: number): string {
  let l = left;
  let r = right;
  for (let i = 1; i <= ROUNDS; i++) {
    const next = (l ^ round(key, i, r)) >>> 0;
    l = r;
    r = next;
  }
  return hex8(l) + hex8(r);
}

function decrypt(key: string, hex: string): [number, number] {
  let [l, r] = toHalves(hex);
  for (let i = ROUNDS; i >= 1; i--) {
    const prev = (r ^ round(key, i, l)) >>> 0;
    r = l;
    l = prev;
  }
  return [l, r];
}

export interface CampaignIds {
  campaignId(n: number): string;
  /** The campaign number behind a campaign id, or null when the id is not one of ours. */
  campaignNumber(campaignId: string): number | null;
  jobId(n: number, index: number): string;
  /** The (campaign number, index) a job id would be, if it is a campaign job (only a lookup can tell). */
  parseJobId(jobId: string): { n: number; index: number } | null;
}

/** `key` is the deployment's `job-ids` server secret, as hex. */
export function createCampaignIds(key: string): CampaignIds {
  const parsed = new Map<string, { n: number; index: number } | null>();
  return {
    campaignId: (n) => `camp_${encrypt(`c${key}`, Math.floor(n / HALF), n % HALF)}`,
    campaignNumber(campaignId) {
      const match = /^camp_([0-9a-f]{16})$/.exec(campaignId);
      if (!match) return null;
      const [high, low] = decrypt(`c${key}`, match[1]!);
      const n = high * HALF + low;
      return n >= 1 && n <= MAX_CAMPAIGN_NUMBER ? n : null;
    },
    // n · 2^24 + i as two 32-bit halves: the high half is n's top 32 bits, the low half its last 8 bits and i.
    jobId: (n, index) =>
      `job_${encrypt(`j${key}`, Math.floor(n / 256), ((n % 256) * 2 ** INDEX_BITS + index) >>> 0)}`,
    parseJobId(jobId) {
      // A client polls the same ids again and again: the last answers are kept (four SHA-1 rounds each).
      const known = parsed.get(jobId);
      if (known !== undefined) return known;
      const match = /^job_([0-9a-f]{16})$/.exec(jobId);
      if (!match) return null;
      const [high, low] = decrypt(`j${key}`, match[1]!);
      const n = high * 256 + Math.floor(low / 2 ** INDEX_BITS);
      const answer = n >= 1 ? { n, index: low % 2 ** INDEX_BITS } : null;
      if (parsed.size >= PARSED_KEPT) parsed.clear();
      parsed.set(jobId, answer);
      return answer;
    },
  };
}
