/**
 * Cancelling a job that ComfyUI already has (issue 11, SPEC §4): `POST /generate/image/v1/cancel/{job_id}`
 * over HTTP, with the prompt either waiting in ComfyUI's queue (the stub holds its queue) or running (the
 * stub's sampler holds at step 0). The job ends `cancelled`; the stub saw the queue delete, or the interrupt
 * naming the prompt; nothing of the prompt is left there; and a server too old to target an interrupt is only
 * interrupted when it is running ours, so another job's prompt is never killed by our cancel.
 */
import { type ApiHarness } from '@castforge/testkit';
import {
  type ComfyStack,
  download,
  endOf,
  startComfyStack,
  submitJob,
} from '@castforge/testkit/comfyui-stack';
import { type ComfyStub } from '@castforge/testkit/comfyui-stub';
import { waitFor } from '@castforge/testkit/wait';
import supertest from 'supertest';
import { promptIdOf } from '../apps/worker/src/inference/comfyui/comfyui-backend';

const JOB = {
  prompt: 'a lighthouse in a storm',
  width: 64,
  height: 64,
  num_inference_steps: 4,
  output_format: 'png',
};

async function cancel(api: ApiHarness, key: string, jobId: string) {
  const res = await supertest(api.server).post(`/generate/image/v1/cancel/${jobId}`).set('X-API-Key', key);
  expect(res.status).toBe(202);
}

/**
 * Waits until the worker is done with this prompt at the stub (its last step is the history delete) and the
 * stub holds nothing of it: not queued, not running, no history entry.
 */
const promptGone = (stub: ComfyStub, promptId: string) =>
  waitFor(
    () =>
      stub.historyDeletes.includes(promptId) &&
      stub.running() !== promptId &&
      !stub.pending().includes(promptId) &&
      !stub.historyIds().includes(promptId),
    { timeoutMs: 10_000, what: `prompt ${promptId} to leave the stub` },
  );

describe('cancelling a job ComfyUI already has (a server from 0.3.57 on)', () => {
  let stack: ComfyStack;
  let key: string;

  beforeAll(async () => {
    stack = await startComfyStack('story-comfyui-cancel');
    key = await stack.api.keyFor('cancel-studio');
  });
  afterAll(() => stack?.close());

  it('while its prompt waits in ComfyUI’s queue: the job ends cancelled and the prompt is deleted from the queue, never interrupted or run', async () => {
    const { stub, api } = stack;
    stub.pause();
    const { job_id: jobId } = await submitJob(api, key, '/generate/image/v1', JOB);
    const promptId = promptIdOf(jobId);
    await waitFor(() => stub.pending().includes(promptId), { what: 'the prompt to be queued at ComfyUI' });

    await cancel(api, key, jobId);

    const ended = await endOf(api, key, '/generate/image/v1', jobId);
    expect(ended).toMatchObject({ status: 'cancelled', failure_reason_code: 'CANCELLED', retryable: false });
    await waitFor(() => stub.queueDeletes.includes(promptId), { what: 'the queue delete' });
    await promptGone(stub, promptId);
    stub.resume();
    expect(stub.interrupts).toEqual([]);
    expect(stub.images.filter((i) => i.promptId === promptId)).toEqual([]);
    expect(stub.submissions.filter((s) => s.body.prompt_id === promptId)).toHaveLength(1);
    expect(stub.uploads).toEqual([]);
  });

  it('while its prompt runs: the job ends cancelled and the stub is interrupted naming that prompt', async () => {
    const { stub, api } = stack;
    stub.script({ hold: true });
    const { job_id: jobId } = await submitJob(api, key, '/generate/image/v1', JOB);
    const promptId = promptIdOf(jobId);
    await waitFor(() => stub.running() === promptId, { what: 'the prompt to run at ComfyUI' });

    await cancel(api, key, jobId);

    const ended = await endOf(api, key, '/generate/image/v1', jobId);
    expect(ended).toMatchObject({ status: 'cancelled', failure_reason_code: 'CANCELLED', retryable: false });
    await waitFor(() => stub.interrupts.length > 0, { what: 'the interrupt' });
    expect(stub.interrupts).toEqual([{ promptId, hit: promptId }]);
    await promptGone(stub, promptId);
    expect(stub.images.filter((i) => i.promptId === promptId)).toEqual([]);
    // The prompt ran once and was not resubmitted after the interrupt.
    expect(stub.submissions.filter((s) => s.body.prompt_id === promptId)).toHaveLength(1);
  });

  it('the next job runs normally afterwards', async () => {
    const { job_id: jobId } = await submitJob(stack.api, key, '/generate/image/v1', JOB);
    expect(await endOf(stack.api, key, '/generate/image/v1', jobId)).toMatchObject({ status: 'completed' });
  });
});

describe('cancelling on a server older than 0.3.57 (its /interrupt ignores the prompt id)', () => {
  let stack: ComfyStack;

  beforeAll(async () => {
    stack = await startComfyStack('story-comfyui-cancel-old', {
      stub: { targetedInterrupt: false },
      // Two jobs at once on the one server: one runs at ComfyUI while the other waits in its queue.
      workerEnv: { INFERENCE_CONCURRENCY: '2' },
    });
  });
  afterAll(() => stack?.close());

  it('a queued job cancelled behind another tenant’s running prompt: no interrupt is sent, and the other job completes', async () => {
    const { stub, api } = stack;
    const [keyA, keyB] = await Promise.all([api.keyFor('old-a'), api.keyFor('old-b')]);
    stub.script({ hold: true });
    const running = await submitJob(api, keyA, '/generate/image/v1', JOB);
    const runningId = promptIdOf(running.job_id);
    await waitFor(() => stub.running() === runningId, { what: 'the first prompt to run' });
    const queued = await submitJob(api, keyB, '/generate/image/v1', { ...JOB, prompt: 'a harbour at night' });
    const queuedId = promptIdOf(queued.job_id);
    await waitFor(() => stub.pending().includes(queuedId), { what: 'the second prompt to be queued' });

    await cancel(api, keyB, queued.job_id);

    expect(await endOf(api, keyB, '/generate/image/v1', queued.job_id)).toMatchObject({
      status: 'cancelled',
    });
    await waitFor(() => stub.queueDeletes.includes(queuedId), { what: 'the queue delete' });
    await promptGone(stub, queuedId);
    expect(stub.interrupts).toEqual([]);
    expect(stub.running()).toBe(runningId);

    stub.release();
    const done = await endOf(api, keyA, '/generate/image/v1', running.job_id);
    expect(done).toMatchObject({ status: 'completed' });
    const sent = stub.images.filter((i) => i.promptId === runningId);
    expect((await download(api, done.result_url!)).equals(sent[0]!.png)).toBe(true);
  });

  it('a running job cancelled: the global interrupt is sent, since the server runs ours', async () => {
    const { stub, api } = stack;
    const key = await api.keyFor('old-a');
    stub.script({ hold: true });
    const { job_id: jobId } = await submitJob(api, key, '/generate/image/v1', JOB);
    const promptId = promptIdOf(jobId);
    await waitFor(() => stub.running() === promptId, { what: 'the prompt to run' });

    await cancel(api, key, jobId);

    expect(await endOf(api, key, '/generate/image/v1', jobId)).toMatchObject({ status: 'cancelled' });
    await waitFor(() => stub.interrupts.length > 0, { what: 'the interrupt' });
    // The old server ignores the id it is sent and interrupts whatever runs: ours.
    expect(stub.interrupts).toEqual([{ promptId, hit: promptId }]);
    await promptGone(stub, promptId);
  });
});
