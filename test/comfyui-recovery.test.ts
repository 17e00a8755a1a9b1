/**
 * ComfyUI jobs across worker deaths and time budgets, through the whole stack (issue 11: "a client-chosen
 * prompt_id for idempotent resubmits"; SPEC §4, §13). A worker process killed while ComfyUI runs its prompt
 * leaves that prompt running; the job's next attempt, on another worker, follows it rather than queueing the
 * same work twice. A prompt that never ends is interrupted, naming it, when the job runs out of its budget.
 */
import { type WorkerHarness, type WorkerProcess, spawnWorker, startWorker } from '@castforge/testkit';
import {
  type ComfyStack,
  download,
  endOf,
  startComfyStack,
  submitJob,
} from '@castforge/testkit/comfyui-stack';
import { waitFor } from '@castforge/testkit/wait';
import { promptIdOf } from '../apps/worker/src/inference/comfyui/comfyui-backend';

const FAST_RECOVERY = { WORKER_LOCK_DURATION_MS: '2000', WORKER_STALLED_INTERVAL_MS: '1000' };
const JOB = {
  prompt: 'a ship in a storm',
  width: 64,
  height: 64,
  num_inference_steps: 20,
  output_format: 'png',
};

describe('a comfyui worker killed while ComfyUI runs its prompt', () => {
  let stack: ComfyStack;
  let doomed: WorkerProcess | undefined;
  let survivor: WorkerHarness | undefined;

  beforeAll(async () => {
    stack = await startComfyStack('story-comfyui-recovery');
    // The stack's own worker stays out of it: the job must go to the process that is killed.
    await stack.worker.close();
    stack.worker = { ...stack.worker, close: () => Promise.resolve() };
  });
  afterAll(async () => {
    stack?.stub.release();
    await doomed?.stop('SIGKILL');
    if (survivor) stack.worker = survivor;
    await stack?.close();
  });

  it('the next attempt follows the prompt still running at ComfyUI: one submission, completed, nothing left', async () => {
    const { api, stub } = stack;
    const key = await api.keyFor('crash-studio');
    const env = {
      INFERENCE_BACKEND: 'comfyui',
      INFERENCE_URLS: stub.url,
      COMFYUI_WORKFLOWS_DIR: stack.templates,
      ...FAST_RECOVERY,
    };
    doomed = spawnWorker(api.services, env);
    stub.script({ hold: true });
    const { job_id: jobId } = await submitJob(api, key, '/generate/image/v1', JOB);
    const promptId = promptIdOf(jobId);
    await waitFor(() => stub.running() === promptId, { timeoutMs: 20_000, what: 'the prompt to run' });

    await doomed.stop('SIGKILL');
    survivor = await startWorker(api.services, env);
    // The new attempt has connected under the job's client id and asked the server where the prompt is.
    const clientId = stub.submissions.find((s) => s.body.prompt_id === promptId)!.body.client_id as string;
    await waitFor(
      () => {
        const reconnect = stub.upgrades.filter((u) => u.clientId === clientId).length >= 2;
        const asked = stub.requests.filter((r) => r.path === `/history/${promptId}`).length >= 2;
        return reconnect && asked;
      },
      { timeoutMs: 20_000, what: 'the second attempt to find the prompt' },
    );
    stub.release();

    const done = await endOf(api, key, '/generate/image/v1', jobId);
    expect(done).toMatchObject({ status: 'completed', attempts: 2 });
    expect(stub.submissions.filter((s) => s.body.prompt_id === promptId)).toHaveLength(1);
    const sent = stub.images.filter((i) => i.promptId === promptId);
    expect(sent).toHaveLength(1);
    expect((await download(api, done.result_url!)).equals(sent[0]!.png)).toBe(true);
    await waitFor(() => stub.historyDeletes.includes(promptId), { what: 'the history delete' });
    expect(stub.historyIds()).toEqual([]);
  });
});

describe('a comfyui prompt that never ends', () => {
  const ATTEMPTS = 2;
  const budget = { JOB_TIMEOUT_SECONDS: '1', JOB_ATTEMPTS: String(ATTEMPTS), JOB_BACKOFF_MS: '100' };
  let stack: ComfyStack;

  beforeAll(async () => {
    stack = await startComfyStack('story-comfyui-timeout', { apiEnv: budget, workerEnv: budget });
  });
  afterAll(async () => {
    stack?.stub.release();
    await stack?.close();
  });

  it('runs out of its budget on every attempt: interrupted naming its prompt each time, failed TIMEOUT, nothing left', async () => {
    const { api, stub } = stack;
    const key = await api.keyFor('timeout-studio');
    stub.script({ hold: true, times: ATTEMPTS });
    const { job_id: jobId } = await submitJob(api, key, '/generate/image/v1', JOB);
    const promptId = promptIdOf(jobId);

    const ended = await endOf(api, key, '/generate/image/v1', jobId);

    expect(ended).toMatchObject({
      status: 'failed',
      failure_reason_code: 'TIMEOUT',
      retryable: true,
      attempts: ATTEMPTS,
    });
    await waitFor(() => stub.historyDeletes.filter((id) => id === promptId).length >= ATTEMPTS, {
      what: 'each attempt’s history delete',
    });
    expect(stub.interrupts).toEqual(Array.from({ length: ATTEMPTS }, () => ({ promptId, hit: promptId })));
    expect(stub.submissions.filter((s) => s.body.prompt_id === promptId)).toHaveLength(ATTEMPTS);
    expect(stub.historyIds()).toEqual([]);
    expect(stub.running()).toBeUndefined();
    expect(stub.pending()).toEqual([]);
  });
});
