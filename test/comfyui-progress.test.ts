/**
 * A ComfyUI job's progress as its user polls it (issue 11: "progress from `progress` frames"; SPEC §4): while
 * the sampler steps, the status shows `processing` with a progress between 0 and 100 that never goes back,
 * and 100 once completed. The stub's sampler is slowed so that the polls see it mid-run.
 */
import { type JobStatus } from '@castforge/schemas';
import { type ComfyStack, startComfyStack, statusOf, submitJob } from '@castforge/testkit/comfyui-stack';
import { waitFor } from '@castforge/testkit/wait';

describe('a ComfyUI job’s progress', () => {
  let stack: ComfyStack;

  beforeAll(async () => {
    stack = await startComfyStack('story-comfyui-progress', { stub: { stepMs: 60 } });
  });
  afterAll(() => stack?.close());

  it('rises with the sampler’s steps while processing, never goes back, and is 100 when completed', async () => {
    const { api } = stack;
    const key = await api.keyFor('progress-studio');
    const { job_id: jobId } = await submitJob(api, key, '/generate/image/v1', {
      prompt: 'a lighthouse at dusk',
      width: 64,
      height: 64,
      num_inference_steps: 25,
    });

    const seen: JobStatus[] = [];
    const done = await waitFor(
      async () => {
        const status = await statusOf(api, key, '/generate/image/v1', jobId);
        seen.push(status);
        return status.status === 'completed' && status;
      },
      { timeoutMs: 20_000, intervalMs: 20, what: 'the job to complete' },
    );

    expect(done.progress).toBe(100);
    const midRun = seen.filter((s) => s.status === 'processing' && s.progress > 0 && s.progress < 100);
    expect(midRun.length).toBeGreaterThan(0);
    const progress = seen.map((s) => s.progress);
    expect(progress.every((value, i) => i === 0 || value >= progress[i - 1]!)).toBe(true);
  });
});
