/**
 * A ComfyUI deployment runs exactly the operations whose templates are present (issue 11, SPEC §3b, §12). With
 * the shipped generate.json and lock.json, `GET /v1/user/details` lists generate and lock for the comfyui
 * backend and nothing else; a faceswap is refused at submit with 422 naming the backends that would run it;
 * `POST /upscale/image/v1` is 501. Once the worker reads a folder that also holds an operator's
 * `upscale.json`, the same deployment lists upscale, accepts the request and runs it through the template.
 */
import { type ErrorResponse, type UserDetails } from '@castforge/schemas';
import { expectError, startWorker } from '@castforge/testkit';
import { templatesDir } from '@castforge/testkit/comfyui-kit';
import {
  type ComfyStack,
  download,
  endOf,
  promptSent,
  startComfyStack,
  submitJob,
} from '@castforge/testkit/comfyui-stack';
import { serve, testImage } from '@castforge/testkit/image-server';
import { waitFor } from '@castforge/testkit/wait';
import sharp from 'sharp';
import supertest from 'supertest';
import { promptIdOf } from '../apps/worker/src/inference/comfyui/comfyui-backend';

/** An operator's upscale workflow: the picture inline, scaled by the request's `scale`, out on the websocket. */
const UPSCALE = {
  '1': {
    class_type: 'ETN_LoadImageBase64',
    inputs: { image: '{{image:input_image}}' },
    _meta: { title: 'Picture (inline)' },
  },
  '2': {
    class_type: 'ImageScaleBy',
    inputs: { image: ['1', 0], upscale_method: 'lanczos', scale_by: '{{option:scale|2}}' },
    _meta: { title: 'Upscale' },
  },
  '3': { class_type: 'SaveImageWebsocket', inputs: { images: ['2', 0] } },
};

describe('a ComfyUI deployment runs the operations whose templates are present', () => {
  let stack: ComfyStack;
  let key: string;
  let picture: Buffer;

  beforeAll(async () => {
    stack = await startComfyStack('story-comfyui-operations');
    key = await stack.api.keyFor('ops-studio');
    picture = await testImage('png', 40, 32, [30, 120, 200]);
    stack.images.route('/pictures/shop.png', serve(picture, 'image/png'));
  });
  afterAll(() => stack?.close());

  const details = async () => {
    const res = await supertest(stack.api.server).get('/v1/user/details').set('X-API-Key', key);
    expect(res.status).toBe(200);
    return res.body as UserDetails;
  };
  const operationsListed = async (expected: string[]) =>
    waitFor(
      async () => {
        const ops = (await details()).operations;
        return (
          ops
            .map((o) => o.operation)
            .sort()
            .join() === expected.join() && ops
        );
      },
      { timeoutMs: 10_000, what: `the deployment to list ${expected.join(', ')}` },
    );
  const upscaleBody = () => ({
    input_image: stack.images.at('/pictures/shop.png'),
    scale: 3,
    output_format: 'png',
  });

  it('with generate.json and lock.json, /v1/user/details lists exactly generate and lock, run by comfyui', async () => {
    const operations = await operationsListed(['generate', 'lock']);
    expect([...operations].sort((a, b) => a.operation.localeCompare(b.operation))).toEqual([
      { operation: 'generate', endpoint: '/generate/image/v1', backends: ['comfyui'] },
      { operation: 'lock', endpoint: '/identity/lock/image/v1', backends: ['comfyui'] },
    ]);
  });

  it('a faceswap is refused at submit with 422 naming the backends that would run it, and nothing reaches ComfyUI', async () => {
    const submissions = stack.stub.submissions.length;
    const res = await supertest(stack.api.server)
      .post('/identity/faceswap/image/v1')
      .set('X-API-Key', key)
      .send({ source: stack.images.at('/pictures/shop.png'), target: stack.images.at('/pictures/shop.png') });

    const body: ErrorResponse = expectError(res, 'INPUT_INVALID');
    const msg = body.detail.map((d) => d.msg).join(' ');
    expect(msg).toContain('faceswap');
    expect(msg).toContain('this deployment runs comfyui');
    expect(msg).toContain('simulated');
    expect(msg).toContain('comfyui (with a faceswap.json workflow template)');
    expect(stack.stub.submissions).toHaveLength(submissions);
  });

  it('POST /upscale/image/v1 is 501 while no template declares upscale', async () => {
    const res = await supertest(stack.api.server)
      .post('/upscale/image/v1')
      .set('X-API-Key', key)
      .send(upscaleBody());
    const body = expectError(res, 'NOT_IMPLEMENTED');
    expect(body.message).toContain('upscale.json');
  });

  it('with an upscale.json in the worker’s folder, upscale is listed, accepted and run through the template', async () => {
    await stack.worker.close();
    const folder = templatesDir(['generate.json', 'lock.json'], { 'upscale.json': UPSCALE });
    try {
      stack.worker = await startWorker(stack.api.services, {
        INFERENCE_BACKEND: 'comfyui',
        INFERENCE_URLS: stack.stub.url,
        COMFYUI_WORKFLOWS_DIR: folder.dir,
        INPUT_ALLOW_LOOPBACK: 'true',
      });
      const operations = await operationsListed(['generate', 'lock', 'upscale']);
      expect(operations.find((o) => o.operation === 'upscale')).toEqual({
        operation: 'upscale',
        endpoint: '/upscale/image/v1',
        backends: ['comfyui'],
      });

      const { job_id: jobId } = await submitJob(stack.api, key, '/upscale/image/v1', upscaleBody());
      const done = await endOf(stack.api, key, '/upscale/image/v1', jobId);

      expect(done).toMatchObject({ status: 'completed', endpoint: '/upscale/image/v1' });
      const prompt = promptSent(stack.stub, promptIdOf(jobId));
      expect(prompt['1']!.inputs.image).toBe(picture.toString('base64'));
      expect(prompt['2']!.inputs.scale_by).toBe(3);
      const bytes = await download(stack.api, done.result_url!);
      expect(await sharp(bytes).metadata()).toMatchObject({ format: 'png', width: 120, height: 96 });
      expect(stack.stub.historyIds()).toEqual([]);
      expect(stack.stub.uploads).toEqual([]);
    } finally {
      folder.cleanup();
    }
  });
});
