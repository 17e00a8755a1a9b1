/**
 * An ImagePipeline endpoint that is 501 by default, enabled by an operator's ComfyUI template that takes two
 * images (issue 11: "any of SPEC §3b's 501 endpoints an operator wants to enable"; SPEC §3b): a
 * `branding-logo.json` compositing the request's `logo_url` onto its `input_image`. Both images must reach the
 * workflow inline, each in its own base64 loader node.
 */
import {
  type ComfyStack,
  download,
  endOf,
  promptSent,
  startComfyStack,
  submitJob,
} from '@castforge/testkit/comfyui-stack';
import { serve, testImage } from '@castforge/testkit/image-server';
import sharp from 'sharp';
import { promptIdOf } from '../apps/worker/src/inference/comfyui/comfyui-backend';

/** The logo over the photo's top-left corner, through its alpha (core ImageCompositeMasked). */
const BRANDING_LOGO = {
  '1': {
    class_type: 'ETN_LoadImageBase64',
    inputs: { image: '{{image:input_image}}' },
    _meta: { title: 'Photo' },
  },
  '2': {
    class_type: 'ETN_LoadImageBase64',
    inputs: { image: '{{image:logo_url}}' },
    _meta: { title: 'Logo' },
  },
  '3': {
    class_type: 'ImageCompositeMasked',
    inputs: { destination: ['1', 0], source: ['2', 0], x: 8, y: 8, resize_source: false, mask: ['2', 1] },
    _meta: { title: 'Stamp' },
  },
  '4': { class_type: 'SaveImageWebsocket', inputs: { images: ['3', 0] } },
};

describe('a branding-logo.json template (two input images)', () => {
  let stack: ComfyStack;
  let photo: Buffer;
  let logo: Buffer;

  beforeAll(async () => {
    stack = await startComfyStack('story-comfyui-surface', {
      shipped: ['generate.json'],
      extra: { 'branding-logo.json': BRANDING_LOGO },
    });
    photo = await testImage('png', 80, 48, [20, 90, 160]);
    logo = await testImage('png', 16, 16, [250, 200, 0]);
    stack.images.route('/photo.png', serve(photo, 'image/png'));
    stack.images.route('/logo.png', serve(logo, 'image/png'));
  });
  afterAll(() => stack?.close());

  it('runs POST /branding/logo/image/v1 with the photo and the logo inline, each in its own loader', async () => {
    const { api, stub } = stack;
    const key = await api.keyFor('brand-studio');
    const { job_id: jobId } = await submitJob(api, key, '/branding/logo/image/v1', {
      input_image: stack.images.at('/photo.png'),
      logo_url: stack.images.at('/logo.png'),
      output_format: 'png',
    });

    const done = await endOf(api, key, '/branding/logo/image/v1', jobId);

    expect({ status: done.status, error: done.error }).toEqual({ status: 'completed', error: null });
    const prompt = promptSent(stub, promptIdOf(jobId));
    expect(prompt['1']!.inputs.image).toBe(photo.toString('base64'));
    expect(prompt['2']!.inputs.image).toBe(logo.toString('base64'));
    const bytes = await download(api, done.result_url!);
    expect(await sharp(bytes).metadata()).toMatchObject({ format: 'png', width: 80, height: 48 });
    expect(stub.historyIds()).toEqual([]);
  });
});
