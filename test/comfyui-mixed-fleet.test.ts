/**
 * Two ComfyUI workers reading different template folders, as during a rolling deploy of a new template or on a
 * fleet whose GPU boxes have different node packs (issue 11: "the deployment's operations are the templates
 * present"; SPEC §3b, §13). The API accepts an upscale because a live worker runs it; every such job must then
 * run on a worker that has upscale.json, or wait for one, never end failed because another worker took it.
 */
import { type JobStatus } from '@castforge/schemas';
import { type WorkerHarness, startWorker } from '@castforge/testkit';
import { templatesDir } from '@castforge/testkit/comfyui-kit';
import { type ComfyStub, startComfyStub } from '@castforge/testkit/comfyui-stub';
import { type ComfyStack, endOf, startComfyStack, submitJob } from '@castforge/testkit/comfyui-stack';
import { serve, testImage } from '@castforge/testkit/image-server';
import { waitFor } from '@castforge/testkit/wait';
import { promptIdOf } from '../apps/worker/src/inference/comfyui/comfyui-backend';

const UPSCALE = {
  '1': { class_type: 'ETN_LoadImageBase64', inputs: { image: '{{image:input_image}}' } },
  '2': {
    class_type: 'ImageScaleBy',
    inputs: { image: ['1', 0], upscale_method: 'lanczos', scale_by: '{{option:scale|2}}' },
  },
  '3': { class_type: 'SaveImageWebsocket', inputs: { images: ['2', 0] } },
};
const UPSCALES = 4;

describe('a fleet whose workers read different template folders', () => {
  let stack: ComfyStack;
  let older: WorkerHarness | undefined;
  let olderGpu: ComfyStub | undefined;
  const folder = templatesDir(['generate.json', 'lock.json']);

  beforeAll(async () => {
    // The stack's worker has the new upscale.json; its one GPU slot is about to be taken by a long job.
    stack = await startComfyStack('story-comfyui-mixed-fleet', {
      extra: { 'upscale.json': UPSCALE },
    });
    stack.images.route('/pictures/shop.png', serve(await testImage('png', 32, 32), 'image/png'));
  });
  afterAll(async () => {
    stack?.stub.release();
    await older?.close();
    await olderGpu?.close();
    await stack?.close();
    folder.cleanup();
  });

  it('upscale jobs accepted while one worker runs upscale.json all complete, though a worker without it is live too', async () => {
    const { api, stub } = stack;
    const key = await api.keyFor('rolling-deploy');
    stub.script({ hold: true });
    const long = await submitJob(api, key, '/generate/image/v1', {
      prompt: 'a long job',
      width: 64,
      height: 64,
    });
    await waitFor(() => stub.running() === promptIdOf(long.job_id), { what: 'the long job to run' });
    const upscales = [];
    for (let i = 0; i < UPSCALES; i += 1)
      upscales.push(
        await submitJob(api, key, '/upscale/image/v1', {
          input_image: stack.images.at('/pictures/shop.png'),
          scale: 2,
        }),
      );

    // A worker of the previous release (no upscale.json) is still live, with a GPU of its own and a slot free.
    olderGpu = await startComfyStub();
    older = await startWorker(api.services, {
      INFERENCE_BACKEND: 'comfyui',
      INFERENCE_URLS: olderGpu.url,
      COMFYUI_WORKFLOWS_DIR: folder.dir,
    });
    // The older worker has had its chance at the lane: it ran another tenant's job submitted after them (the
    // only free GPU slot is its own).
    const probeKey = await api.keyFor('another-tenant');
    const probe = await submitJob(api, probeKey, '/generate/image/v1', {
      prompt: 'a probe',
      width: 64,
      height: 64,
    });
    expect(await endOf(api, probeKey, '/generate/image/v1', probe.job_id)).toMatchObject({
      status: 'completed',
    });
    stub.release();

    const ended: JobStatus[] = [];
    for (const job of upscales) ended.push(await endOf(api, key, '/upscale/image/v1', job.job_id, 30_000));
    expect(ended.map((s) => [s.status, s.failure_reason_code, s.error])).toEqual(
      upscales.map(() => ['completed', null, null]),
    );
    expect(await endOf(api, key, '/generate/image/v1', long.job_id)).toMatchObject({ status: 'completed' });
  });
});
