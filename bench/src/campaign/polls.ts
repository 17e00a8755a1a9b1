import { type HttpClient } from '../support/http';
import { type Probe, interleaved } from '../support/stats';

/** The calls are split into rounds in which each probe takes a turn, so drift lands on all alike. */
export const ROUNDS = 20;

/** `n` sequential calls of each probe, after a second of unrecorded calls (connections, JIT, MongoDB's cache). */
export const interleavedPolls = (probes: Probe[], n: number) =>
  interleaved(probes, n, { rounds: ROUNDS, warmupMs: 1000 });

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
