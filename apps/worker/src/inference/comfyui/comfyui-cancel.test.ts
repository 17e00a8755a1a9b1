import { testLogger, waitFor } from '@castforge/testkit';
import { failure, makeRequest, templatesDir } from '@castforge/testkit/comfyui-kit';
import { type ComfyStubOptions, startComfyStub } from '@castforge/testkit/comfyui-stub';
import { type Endpoint, JobCancelledError, JobTimeoutError } from '../inference-backend';
import { createComfyuiBackend, promptIdOf } from './comfyui-backend';

const logger = testLogger('comfyui-cancel.test');
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setUp(stubOptions?: ComfyStubOptions) {
  const stub = await startComfyStub(stubOptions);
  cleanups.push(() => stub.close());
  const templates = templatesDir(['generate.json']);
  cleanups.push(templates.cleanup);
  const backend = createComfyuiBackend({ workflowsDir: templates.dir, logger });
  const endpoint: Endpoint = { index: 0, url: stub.url };
  await backend.init!([endpoint]);
  return { stub, backend, endpoint };
}

/** Submits a prompt of another client straight to the stub, as a second user of the same ComfyUI would. */
async function foreignPrompt(url: string, prompt: unknown): Promise<string> {
  const res = await fetch(`${url}/prompt`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ prompt, client_id: 'someone-else' }),
  });
  return ((await res.json()) as { prompt_id: string }).prompt_id;
}

describe('comfyui backend: cancel', () => {
  it('while queued: takes the prompt out of the queue, interrupts nothing, and it never runs', async () => {
    const { stub, backend, endpoint } = await setUp();
    stub.pause();
    const controller = new AbortController();
    const request = makeRequest({ signal: controller.signal });
    const pending = failure(backend.run(endpoint, request));
    const promptId = promptIdOf(request.jobId);
    await waitFor(() => stub.pending().includes(promptId), { what: 'the prompt to be queued' });

    controller.abort(new JobCancelledError('cancelled'));
    const err = await pending;
    stub.resume();

    expect(err).toMatchObject({ code: 'CANCELLED', retryable: false });
    expect(stub.queueDeletes).toEqual([promptId]);
    expect(stub.interrupts).toEqual([]);
    expect(stub.pending()).toEqual([]);
    expect(stub.running()).toBeUndefined();
    expect(stub.historyIds()).toEqual([]);
  });

  it('while running: interrupts that prompt by id, fails CANCELLED, and leaves no history entry', async () => {
    const { stub, backend, endpoint } = await setUp();
    stub.script({ hold: true });
    const controller = new AbortController();
    const request = makeRequest({ signal: controller.signal });
    const pending = failure(backend.run(endpoint, request));
    const promptId = promptIdOf(request.jobId);
    await waitFor(() => stub.running() === promptId, { what: 'the prompt to run' });

    controller.abort(new JobCancelledError('cancelled'));
    const err = await pending;

    expect(err).toMatchObject({ code: 'CANCELLED' });
    expect(stub.interrupts).toEqual([{ promptId, hit: promptId }]);
    expect(stub.running()).toBeUndefined();
    expect(stub.historyIds()).toEqual([]);
  });

  it('when the time budget runs out mid-run: interrupts and fails TIMEOUT with the worker’s message', async () => {
    const { stub, backend, endpoint } = await setUp();
    stub.script({ hold: true });
    const controller = new AbortController();
    const request = makeRequest({ signal: controller.signal });
    const pending = failure(backend.run(endpoint, request));
    await waitFor(() => stub.running() === promptIdOf(request.jobId), { what: 'the prompt to run' });

    controller.abort(new JobTimeoutError('the job passed its 5 s time budget'));
    const err = await pending;

    expect(err).toMatchObject({
      code: 'TIMEOUT',
      retryable: true,
      message: 'the job passed its 5 s time budget',
    });
    expect(stub.interrupts).toHaveLength(1);
    expect(stub.historyIds()).toEqual([]);
  });

  it('a signal aborted before the run starts sends nothing to the server', async () => {
    const { stub, backend, endpoint } = await setUp();
    const controller = new AbortController();
    controller.abort(new JobCancelledError('cancelled'));

    const err = await failure(backend.run(endpoint, makeRequest({ signal: controller.signal })));

    expect(err.code).toBe('CANCELLED');
    expect(stub.submissions).toEqual([]);
  });
});

describe('comfyui backend: cancel on a server too old to target an interrupt (before 0.3.57)', () => {
  it('while ours waits behind another client’s prompt, the global interrupt is not sent', async () => {
    const { stub, backend, endpoint } = await setUp({ targetedInterrupt: false });
    // Someone else's prompt holds the GPU: ours copied, with another seed so ComfyUI's cache does not serve it.
    await backend.run(endpoint, makeRequest());
    const copy = structuredClone(stub.submissions[0]!.body.prompt) as Record<
      string,
      { inputs: Record<string, unknown> }
    >;
    copy['3']!.inputs.seed = 777;
    stub.script({ hold: true });
    const theirs = await foreignPrompt(stub.url, copy);
    await waitFor(() => stub.running() === theirs, { what: 'the other prompt to run' });
    const controller = new AbortController();
    const request = makeRequest({ signal: controller.signal });
    const pending = failure(backend.run(endpoint, request));
    await waitFor(() => stub.pending().includes(promptIdOf(request.jobId)), { what: 'ours to be queued' });

    controller.abort(new JobCancelledError('cancelled'));
    const err = await pending;

    expect(err.code).toBe('CANCELLED');
    expect(stub.interrupts).toEqual([]);
    expect(stub.running()).toBe(theirs);
    stub.release();
  });

  it('while ours runs, the (global) interrupt is sent and stops ours', async () => {
    const { stub, backend, endpoint } = await setUp({ targetedInterrupt: false });
    stub.script({ hold: true });
    const controller = new AbortController();
    const request = makeRequest({ signal: controller.signal });
    const pending = failure(backend.run(endpoint, request));
    const promptId = promptIdOf(request.jobId);
    await waitFor(() => stub.running() === promptId, { what: 'ours to run' });

    controller.abort(new JobCancelledError('cancelled'));

    expect((await pending).code).toBe('CANCELLED');
    expect(stub.interrupts).toEqual([{ promptId, hit: promptId }]);
    expect(stub.historyIds()).toEqual([]);
  });
});

describe('comfyui backend: cancel behind a proxy that hides /queue and /history/{id}', () => {
  it('still runs jobs, and interrupts a running prompt because its socket said it started', async () => {
    const { stub, backend, endpoint } = await setUp({ hide: ['GET /queue', 'GET /history/{id}'] });
    await expect(backend.run(endpoint, makeRequest())).resolves.toMatchObject({ seed: 1234 });
    stub.script({ hold: true });
    const controller = new AbortController();
    // Another seed, or ComfyUI's cache would skip the held sampler.
    const request = makeRequest({ seed: 8, signal: controller.signal });
    const pending = failure(backend.run(endpoint, request));
    const promptId = promptIdOf(request.jobId);
    await waitFor(() => stub.running() === promptId, { what: 'the prompt to run' });

    controller.abort(new JobCancelledError('cancelled'));

    expect((await pending).code).toBe('CANCELLED');
    expect(stub.interrupts).toEqual([{ promptId, hit: promptId }]);
    // Deleted blind, since it could not be read.
    expect(stub.historyIds()).toEqual([]);
  });
});
