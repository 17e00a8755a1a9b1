/**
 * Issue 10, "`enhance_prompt=True`": the official client's `generate.image(..., enhance_prompt=True)`.
 * With an OpenAI-compatible chat server configured on the worker (PROMPT_ENHANCER_URL; here the stub of
 * test/support/openai-stub.ts, speaking that protocol), the caller's prompt is rewritten BEFORE the profile's
 * template is joined, and the status's `prompt` (and `prompt_hash`) is the enhanced prompt joined with the
 * template (SPEC §12). With none configured, or one that fails, the job still completes on the prompt as
 * given and its `warnings` say why. Each half has its own API, worker and Redis prefix, since the enhancer
 * is the worker's configuration.
 */
import { createHash } from 'node:crypto';
import { type ApiHarness, type WorkerHarness, startApi, startWorker } from '@castforge/testkit';
import { type OpenAiStub, startOpenAiStub } from '@castforge/testkit/openai-stub';
import {
  SEED_TEMPLATE,
  type SdkClient,
  sdkBody,
  sdkClient,
  seedProfileBody,
} from '@castforge/testkit/sdk-client';

const PROMPT = 'a woman on a rooftop';
const ENHANCED = `${PROMPT}, golden hour light, shallow depth of field, 85mm lens, detailed textures`;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const seedProfile = async (ip: SdkClient) =>
  (await ip.post('/profiles/v1', seedProfileBody())).profile_id as string;

describe('generate.image(enhance_prompt=True) with an OpenAI-compatible enhancer configured', () => {
  let api: ApiHarness;
  let worker: WorkerHarness;
  let stub: OpenAiStub;
  let ip: SdkClient;
  let profileId: string;

  beforeAll(async () => {
    stub = await startOpenAiStub({ apiKey: 'sk-local-enhancer' });
    api = await startApi('story-sdk-enhance');
    worker = await startWorker(api.services, {
      SIMULATED_STEP_MS: '1',
      PROMPT_ENHANCER_URL: stub.url,
      PROMPT_ENHANCER_MODEL: 'llama3.2:3b',
      PROMPT_ENHANCER_API_KEY: 'sk-local-enhancer',
    });
    ip = sdkClient(api.baseUrl, await api.keyFor('sdk-enhance'));
    profileId = await seedProfile(ip);
  });
  afterAll(async () => {
    await worker?.close();
    await api?.close();
    await stub?.close();
  });

  it('reports the enhanced prompt joined with the profile’s template, with no warning', async () => {
    const before = stub.requests.length;
    const { job, status } = await ip.submitAndPoll(
      'generate/image/v1',
      sdkBody.generateImage(PROMPT, { profile_id: profileId, enhance_prompt: true }),
    );
    expect(job).toMatchObject({
      status: 'completed',
      result_mime_type: 'image/png',
      warnings: null,
      prompt_hash: sha256(`${ENHANCED}, ${SEED_TEMPLATE}`),
    });
    expect(status).toMatchObject({ prompt: `${ENHANCED}, ${SEED_TEMPLATE}`, seed: 42 });

    // The model was asked about the caller's prompt alone: the identity is joined after it answered.
    const asked = stub.requests.slice(before);
    expect(asked).toHaveLength(1);
    expect(asked[0]).toMatchObject({
      path: '/v1/chat/completions',
      headers: { authorization: 'Bearer sk-local-enhancer' },
      body: { model: 'llama3.2:3b' },
    });
    const messages = (asked[0]!.body as { messages: { role: string; content: string }[] }).messages;
    expect(messages.filter((m) => m.role === 'user').map((m) => m.content)).toEqual([PROMPT]);
  });

  it('never asks the enhancer when the client sends its default enhance_prompt=False', async () => {
    const before = stub.requests.length;
    const { job, status } = await ip.submitAndPoll(
      'generate/image/v1',
      sdkBody.generateImage(PROMPT, { profile_id: profileId }),
    );
    expect(job).toMatchObject({ status: 'completed', warnings: null });
    expect(status.prompt).toBe(`${PROMPT}, ${SEED_TEMPLATE}`);
    expect(stub.requests.length).toBe(before);
  });

  it('completes on the prompt as given, with a warning saying why, when the enhancer fails', async () => {
    stub.script({ status: 503 });
    const { job, status } = await ip.submitAndPoll(
      'generate/image/v1',
      sdkBody.generateImage(PROMPT, { profile_id: profileId, enhance_prompt: true }),
    );
    expect(job).toMatchObject({ status: 'completed', prompt_hash: sha256(`${PROMPT}, ${SEED_TEMPLATE}`) });
    expect(status.prompt).toBe(`${PROMPT}, ${SEED_TEMPLATE}`);
    expect(job.warnings).toEqual([expect.stringMatching(/^enhance_prompt: .*503.*as given/)]);
  });
});

describe('generate.image(enhance_prompt=True) with no prompt enhancer configured', () => {
  let api: ApiHarness;
  let worker: WorkerHarness;

  beforeAll(async () => {
    api = await startApi('story-sdk-no-enhancer');
    worker = await startWorker(api.services, { SIMULATED_STEP_MS: '1' });
  });
  afterAll(async () => {
    await worker?.close();
    await api?.close();
  });

  it('completes on the prompt as given, and warnings say that no enhancer is configured', async () => {
    const ip = sdkClient(api.baseUrl, await api.keyFor('sdk-no-enhancer'));
    const profileId = await seedProfile(ip);
    const { job, status } = await ip.submitAndPoll(
      'generate/image/v1',
      sdkBody.generateImage(PROMPT, { profile_id: profileId, enhance_prompt: true }),
    );
    expect(job).toMatchObject({
      status: 'completed',
      result_mime_type: 'image/png',
      prompt_hash: sha256(`${PROMPT}, ${SEED_TEMPLATE}`),
    });
    expect(status).toMatchObject({ prompt: `${PROMPT}, ${SEED_TEMPLATE}`, seed: 42 });
    expect(job.warnings).toEqual([
      expect.stringMatching(/enhance_prompt.*no prompt enhancer.*PROMPT_ENHANCER_URL/),
    ]);
  });
});
