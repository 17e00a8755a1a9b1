/**
 * SPEC §1: the default budgets never get in the way of the seed's own loop. A client submits a
 * 500-profile roster in one burst, then polls all its jobs once a second; with the default settings
 * (read from the config schema, so the test follows them) it never sees a 429. The rounds run for one
 * read window and a second more, so the budget is seen to hold across a window's end.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type ApiHarness, startApi } from '@castforge/testkit';
import { ApiConfig } from '../config';

const ROSTER = 500;
/** Requests in flight at once, as a client's connection pool allows (fetch keeps connections alive). */
const CONNECTIONS = 64;
const POLLED_JOBS = 1000;

/** `count` calls as fast as CONNECTIONS connections allow, answers in call order. */
async function inParallel<T>(count: number, call: (i: number) => Promise<T>): Promise<T[]> {
  const answers: T[] = new Array<T>(count);
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      answers[i] = await call(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONNECTIONS, count) }, lane));
  return answers;
}

describe('the seed loop under the default rate limits', () => {
  const defaults = ApiConfig.parse({});
  let api: ApiHarness;
  let key: string;
  beforeAll(async () => {
    api = await startApi('ratelimit-seed-loop', {
      RATE_LIMIT_READS: String(defaults.RATE_LIMIT_READS),
      RATE_LIMIT_READS_WINDOW_SECONDS: String(defaults.RATE_LIMIT_READS_WINDOW_SECONDS),
      RATE_LIMIT_WRITES: String(defaults.RATE_LIMIT_WRITES),
      RATE_LIMIT_WRITES_WINDOW_SECONDS: String(defaults.RATE_LIMIT_WRITES_WINDOW_SECONDS),
    });
    key = await api.keyFor('seed');
  });
  afterAll(() => api.close());

  /**
   * One request as the seed's client makes it: a 503 (Redis slower than the API's command timeout, as on a
   * starved CI machine) is retried after its Retry-After, as the SDK does; a 429 is never retried.
   */
  const call = async (path: string, init: RequestInit = {}) => {
    for (let attempt = 1; ; attempt++) {
      const res = await fetch(`${api.baseUrl}${path}`, {
        ...init,
        headers: { 'X-API-Key': key, 'Content-Type': 'application/json' },
      });
      const answer = {
        status: res.status,
        left: Number(/;r=(\d+)/.exec(res.headers.get('ratelimit') ?? '')?.[1]),
        body: (await res.json()) as Record<string, unknown>,
      };
      if (answer.status !== 503 || attempt === 5) return answer;
      await sleep(Number(res.headers.get('retry-after') ?? 1) * 1000);
    }
  };

  it('gives no 429 to a 500-request burst of writes, then 1,000 jobs polled every second', async () => {
    const statuses = new Map<number, number>();
    const seen = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1);
    /** The reads left, as each poll's RateLimit field said. */
    const reads: number[] = [];

    const burst = await inParallel(ROSTER, (i) =>
      call('/generate/image/v1', { method: 'POST', body: JSON.stringify({ prompt: `roster member ${i}` }) }),
    );
    burst.forEach((res) => seen(res.status));
    const jobIds = burst.map((res) => res.body.job_id as string);
    // Another 500 queued the same way, so 1,000 distinct jobs are polled.
    const more = await inParallel(POLLED_JOBS - ROSTER, (i) =>
      call('/generate/image/v1', { method: 'POST', body: JSON.stringify({ prompt: `scene ${i}` }) }),
    );
    more.forEach((res) => seen(res.status));
    jobIds.push(...more.map((res) => res.body.job_id as string));

    const rounds = defaults.RATE_LIMIT_READS_WINDOW_SECONDS + 1;
    for (let round = 0; round < rounds; round++) {
      const started = Date.now();
      const polls = await inParallel(jobIds.length, (i) => call(`/generate/image/v1/status/${jobIds[i]}`));
      polls.forEach((res) => {
        seen(res.status);
        reads.push(res.left);
      });
      // Once a second: a round that took longer starts the next at once (a slower client, never faster).
      await sleep(Math.max(0, 1000 - (Date.now() - started)));
    }

    expect(Object.fromEntries(statuses)).toEqual({ 202: POLLED_JOBS, 200: POLLED_JOBS * rounds });
    // The budget was on and spent, not off: some answer saw at least a round's polls taken from it.
    expect(Math.min(...reads)).toBeLessThanOrEqual(defaults.RATE_LIMIT_READS - POLLED_JOBS);
  }, 180_000);
});
