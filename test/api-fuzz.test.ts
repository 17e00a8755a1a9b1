/**
 * A sample of chaos/'s fuzz (npm run chaos sends 10,000): every operation of the API's own /openapi.json
 * with fast-check-generated bodies (valid-looking from the route's schema, or with one thing wrong),
 * hostile JSON and bytes, odd and huge headers, hostile paths and queries, other methods. Every answer
 * must be < 500, come within 5 s, and, when an error, be in the SPEC §8 shape; another tenant's key must
 * never reach the fuzzing tenant's resources; the API must still answer afterwards.
 *
 * FAILS ON TODAY'S CODE with what the fuzz found (see the chaos/ section of README.md):
 * - requests Node's HTTP parser refuses (a control byte in a header, headers over 16 KB) get Node's bare
 *   400 / 431 with an empty body, not the §8 shape: the API has no `clientError` handler;
 * - a JSON body nested ~10,000 levels deep with an Idempotency-Key overflows the stack in canonicalJson
 *   (apps/api/src/idempotency/idempotency.ts): 500 INTERNAL_ERROR instead of the 422 the validation
 *   gives the same body without the header.
 */
import { type ApiHarness, startApi } from '@castforge/testkit';
import { type WebhookReceiver, startReceiver } from '@castforge/testkit/webhook-receiver';
import { runFuzz } from '../chaos/src/fuzz/fuzz-run';

describe('every route of /openapi.json, fuzzed (a 300-request sample)', () => {
  let api: ApiHarness;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    api = await startApi('story-api-fuzz', { CALLBACK_ALLOW_LOOPBACK: 'true', CAMPAIGN_MAX_JOBS: '2000' });
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver?.close();
    await api?.close();
  });

  it('answers every request below 500, in the §8 shape when an error, and stays up', async () => {
    const report = await runFuzz({
      baseUrls: [api.baseUrl],
      key: await api.keyFor('fuzz'),
      otherKey: await api.keyFor('fuzz-other'),
      acceptedCallbackUrl: receiver.url('/fuzz'),
      runs: 300,
      seed: 20_260_801,
      parallel: 2,
    });
    expect(report.requests).toBeGreaterThanOrEqual(300);
    expect(report.routes).toBeGreaterThanOrEqual(20);
    expect((await fetch(`${api.baseUrl}/healthz`)).status).toBe(200);
    expect(report.findings.map((f) => `${f.count}× ${f.what}\n    e.g. ${f.example}`)).toEqual([]);
  }, 60_000);
});
