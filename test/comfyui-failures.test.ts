/**
 * ComfyUI failing a job, as its user sees it over HTTP (issue 11, SPEC §4, §8): an `execution_error` ends the
 * job failed with the node that failed and ComfyUI's message, coded INPUT_INVALID when the job's input is at
 * fault (a face detector finds no face, the node decoding the job's image fails) and MODEL_ERROR (retried)
 * otherwise; a workflow ComfyUI refuses at submit (`node_errors`) is INPUT_INVALID. After each, the stub holds
 * nothing of the job, and the status never carries the base64 face ComfyUI echoes in its error.
 */
import { type ComfyStack, endOf, startComfyStack, submitJob } from '@castforge/testkit/comfyui-stack';
import { type ComfyStub } from '@castforge/testkit/comfyui-stub';
import { serve, testImage } from '@castforge/testkit/image-server';
import { waitFor } from '@castforge/testkit/wait';
import supertest from 'supertest';
import { promptIdOf } from '../apps/worker/src/inference/comfyui/comfyui-backend';

const ATTEMPTS = 2;
const RETRIES = { JOB_ATTEMPTS: String(ATTEMPTS), JOB_BACKOFF_MS: '100' };

/** The worker is done with every prompt it sent (each history entry deleted) and the stub holds nothing. */
async function expectNothingLeft(stub: ComfyStub, promptId: string) {
  await waitFor(() => stub.historyDeletes.includes(promptId), { what: `the history delete of ${promptId}` });
  expect(stub.historyIds()).toEqual([]);
  expect(stub.running()).toBeUndefined();
  expect(stub.pending()).toEqual([]);
  expect(stub.uploads).toEqual([]);
  expect(stub.savedFiles).toEqual([]);
}

describe('a ComfyUI that fails jobs', () => {
  let stack: ComfyStack;
  let key: string;
  let face: Buffer;

  beforeAll(async () => {
    stack = await startComfyStack('story-comfyui-failures', { apiEnv: RETRIES, workerEnv: RETRIES });
    key = await stack.api.keyFor('failing-studio');
    face = await testImage('png', 40, 48, [190, 150, 120]);
    stack.images.route('/faces/crowd.png', serve(face, 'image/png'));
  });
  afterAll(() => stack?.close());

  it('an execution_error in the sampler (out of memory) fails the job MODEL_ERROR with the node and message, after its retries', async () => {
    const { stub, api } = stack;
    stub.script({
      fail: { node: 'KSampler', type: 'torch.OutOfMemoryError', message: 'Allocation on device' },
      times: ATTEMPTS,
    });
    const { job_id: jobId } = await submitJob(api, key, '/generate/image/v1', {
      prompt: 'a harbour at dusk',
      width: 64,
      height: 64,
      output_format: 'png',
    });

    const ended = await endOf(api, key, '/generate/image/v1', jobId);

    expect(ended).toMatchObject({
      status: 'failed',
      failure_reason_code: 'MODEL_ERROR',
      retryable: true,
      attempts: ATTEMPTS,
      result_url: null,
    });
    expect(ended.error).toContain(
      'generate.json node 3 (KSampler "Sampler"): torch.OutOfMemoryError: Allocation on device',
    );
    const promptId = promptIdOf(jobId);
    // Each attempt found the earlier one's entry gone and ran the prompt again under the same id.
    expect(stub.submissions.filter((s) => s.body.prompt_id === promptId)).toHaveLength(ATTEMPTS);
    await expectNothingLeft(stub, promptId);
  });

  it('a face detector finding no face fails a lock job INPUT_INVALID at once, and the status never echoes the face', async () => {
    const { stub, api } = stack;
    stub.script({ fail: { node: 'ApplyInstantID', message: 'No face detected in the reference image' } });
    const { job_id: jobId } = await submitJob(api, key, '/identity/lock/image/v1', {
      input_image: stack.images.at('/faces/crowd.png'),
      prompt: 'a crowd at a market',
      width: 64,
      height: 64,
      output_format: 'png',
    });

    const ended = await endOf(api, key, '/identity/lock/image/v1', jobId);

    expect(ended).toMatchObject({
      status: 'failed',
      failure_reason_code: 'INPUT_INVALID',
      retryable: false,
      attempts: 1,
    });
    expect(ended.error).toContain(
      'lock.json node 9 (ApplyInstantID "Apply InstantID"): Exception: No face detected in the reference image',
    );
    // ComfyUI's execution_error echoes the node's inputs; the face's base64 must not reach the status.
    expect(JSON.stringify(ended)).not.toContain(face.toString('base64').slice(0, 40));
    const promptId = promptIdOf(jobId);
    expect(stub.submissions.filter((s) => s.body.prompt_id === promptId)).toHaveLength(1);
    await expectNothingLeft(stub, promptId);
  });

  it('the node decoding the job’s image failing is the input’s fault too: INPUT_INVALID, naming the loader node', async () => {
    const { stub, api } = stack;
    // Another picture: ComfyUI would serve the loader of the one above from its cache, never running it again.
    stack.images.route('/faces/other.png', serve(await testImage('png', 40, 48, [90, 60, 40]), 'image/png'));
    stub.script({
      fail: {
        node: 'ETN_LoadImageBase64',
        type: 'PIL.UnidentifiedImageError',
        message: 'cannot identify image file',
      },
    });
    const { job_id: jobId } = await submitJob(api, key, '/identity/lock/image/v1', {
      input_image: stack.images.at('/faces/other.png'),
      prompt: 'a crowd at a market',
      width: 64,
      height: 64,
    });

    const ended = await endOf(api, key, '/identity/lock/image/v1', jobId);

    expect(ended).toMatchObject({ status: 'failed', failure_reason_code: 'INPUT_INVALID', attempts: 1 });
    expect(ended.error).toContain(
      'lock.json node 6 (ETN_LoadImageBase64 "Face (input_image, inline)"): PIL.UnidentifiedImageError: cannot identify image file',
    );
    await expectNothingLeft(stub, promptIdOf(jobId));
  });

  it('a workflow ComfyUI refuses at submit (a checkpoint it does not have) fails INPUT_INVALID naming the node and the value', async () => {
    const { stub, api } = stack;
    const profile = await supertest(api.server)
      .post('/profiles/v1')
      .set('X-API-Key', key)
      .send({ name: 'Unknown model', adapter: { model: 'no_such_model.safetensors' } });
    expect(profile.status).toBe(201);
    const { job_id: jobId } = await submitJob(api, key, '/generate/image/v1', {
      prompt: 'a harbour at noon',
      profile_id: profile.body.profile_id,
      width: 64,
      height: 64,
    });

    const ended = await endOf(api, key, '/generate/image/v1', jobId);

    expect(ended).toMatchObject({ status: 'failed', failure_reason_code: 'INPUT_INVALID', attempts: 1 });
    expect(ended.error).toContain(
      'refused generate.json: node 4 (CheckpointLoaderSimple "Checkpoint (profile adapter.model)"): Value not in list',
    );
    expect(ended.error).toContain("ckpt_name: 'no_such_model.safetensors' not in");
    const promptId = promptIdOf(jobId);
    expect(stub.submissions.filter((s) => s.body.prompt_id === promptId).map((s) => s.status)).toEqual([400]);
    await expectNothingLeft(stub, promptId);
  });

  it('the next job runs normally once the failures are over', async () => {
    const { job_id: jobId } = await submitJob(stack.api, key, '/generate/image/v1', {
      prompt: 'a harbour at dawn',
      width: 64,
      height: 64,
    });
    expect(await endOf(stack.api, key, '/generate/image/v1', jobId)).toMatchObject({
      status: 'completed',
      attempts: 1,
    });
  });
});
