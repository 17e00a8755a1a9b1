import { type HttpClient } from '../support/http';
import { type Summary, summarize, timeSequential } from '../support/stats';

/** One thing to time: a call that throws unless it got the expected answer. */
export type Probe = () => Promise<unknown>;

/** Unrecorded calls before the first round: connections, JIT and MongoDB's cache warm. */
const WARMUP_MS = 1000;
/** The calls are split into rounds in which each probe takes a turn, so drift lands on all alike. */
export const ROUNDS = 20;
/** Each recorded block starts after a few ms of unrecorded calls of its own probe. */
const BLOCK_WARMUP_MS = 5;

/** `n` sequential calls of each probe, interleaved in ROUNDS rounds: latency summaries in ms. */
export async function interleaved(probes: Probe[], n: number): Promise<Summary[]> {
  const until = performance.now() + WARMUP_MS;
  while (performance.now() < until) for (const probe of probes) await probe();
  const samples = probes.map(() => [] as number[]);
  for (let round = 0; round < ROUNDS; round++) {
    const size = Math.floor(n / ROUNDS) + (round < n % ROUNDS ? 1 : 0);
    for (const [i, probe] of probes.entries()) {
      const warm = performance.now() + BLOCK_WARMUP_MS;
      while (performance.now() < warm) await probe();
      samples[i]!.push(...(await timeSequential(size, probe)));
    }
  }
  return samples.map(summarize);
}

/** GET /campaigns/v1/{id} must answer 200 with every job still queued: no worker ran. */
export const getCampaign =
  (http: HttpClient, campaignId: string, jobs: number): Probe =>
  async () => {
    const reply = await http.get(`/campaigns/v1/${campaignId}`);
    const body = reply.body as { job_count?: number; counts?: { queued?: number } } | null;
    if (reply.status !== 200 || body?.job_count !== jobs || body.counts?.queued !== jobs) {
      throw new Error(
        `GET /campaigns/v1/${campaignId}: HTTP ${reply.status} ${JSON.stringify(reply.body).slice(0, 200)}`,
      );
    }
    return body;
  };

export const FLOOR_LABEL = 'floor: GET /healthz (same client; no auth, no store)';

export const getFloor =
  (http: HttpClient): Probe =>
  async () => {
    const reply = await http.get('/healthz');
    if (reply.status !== 200) throw new Error(`GET /healthz: HTTP ${reply.status}`);
    return reply.body;
  };
