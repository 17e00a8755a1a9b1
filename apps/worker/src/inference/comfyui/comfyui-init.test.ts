import { type AddressInfo, createServer } from 'node:net';
import { testLogger } from '@castforge/testkit';
import { failure, makeRequest, templatesDir } from '@castforge/testkit/comfyui-kit';
import { type ComfyStubOptions, startComfyStub } from '@castforge/testkit/comfyui-stub';
import { createComfyuiBackend } from './comfyui-backend';

const logger = testLogger('comfyui-init.test');
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function stub(options?: ComfyStubOptions) {
  const server = await startComfyStub(options);
  cleanups.push(() => server.close());
  return server;
}

function backendWith(shipped: string[], extra: Record<string, unknown> = {}) {
  const templates = templatesDir(shipped, extra);
  cleanups.push(templates.cleanup);
  return createComfyuiBackend({ workflowsDir: templates.dir, logger });
}

/** The message `fn` throws (sync or async); fails the test if it does not throw. */
async function thrown(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  throw new Error('expected it to throw');
}

async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe('comfyui backend: start-up checks against /object_info', () => {
  it('when a template names a node class the server lacks, init fails with one message naming the file, node and pack', async () => {
    const server = await stub({ without: ['ApplyInstantID'] });
    const backend = backendWith(['generate.json', 'lock.json']);

    const message = await thrown(() => backend.init!([{ index: 0, url: server.url }]));

    expect(message).toContain(`comfyui at ${new URL(server.url).host} cannot run the workflow templates`);
    expect(message).toContain(
      'lock.json node 9 (ApplyInstantID "Apply InstantID"): node class ApplyInstantID is not installed (from cubiq/ComfyUI_InstantID)',
    );
    expect(message).not.toContain('generate.json');
  });

  it('names every mismatch of every template at once: unknown input, unset required input, wrong link type', async () => {
    const server = await stub({ without: ['ETN_LoadImageBase64'] });
    const broken = {
      '1': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'sd_xl_base_1.0.safetensors' } },
      '2': {
        class_type: 'EmptyLatentImage',
        inputs: { width: '{{width}}', heigth: '{{height}}', batch_size: 1 },
      },
      '3': {
        class_type: 'KSampler',
        inputs: {
          model: ['1', 1],
          seed: '{{seed}}',
          steps: 4,
          cfg: 7,
          sampler_name: 'euler',
          scheduler: 'normal',
          positive: ['1', 0],
          negative: ['1', 0],
          latent_image: ['2', 0],
          denoise: 1,
        },
        _meta: { title: 'Sampler' },
      },
      '4': { class_type: 'VAEDecode', inputs: { samples: ['3', 0], vae: ['1', 2] } },
      '5': { class_type: 'SaveImageWebsocket', inputs: { images: ['4', 0] } },
    };
    const backend = backendWith(['lock.json'], { 'generate.json': broken });

    const message = await thrown(() => backend.init!([{ index: 0, url: server.url }]));

    expect(message).toContain(
      'generate.json node 2 (EmptyLatentImage) input "heigth": EmptyLatentImage has no such input',
    );
    expect(message).toContain(
      'generate.json node 2 (EmptyLatentImage) input "height": required by EmptyLatentImage but not set',
    );
    expect(message).toContain(
      'generate.json node 3 (KSampler "Sampler") input "model": expects MODEL but is linked to a CLIP output',
    );
    expect(message).toContain(
      'lock.json node 6 (ETN_LoadImageBase64 "Face (input_image, inline)"): node class ETN_LoadImageBase64 is not installed (from Acly/comfyui-tooling-nodes)',
    );
  });

  it('refuses a second output node (it would write files), and a placeholder on a link input', async () => {
    const server = await stub();
    const template = {
      '1': { class_type: 'ETN_LoadImageBase64', inputs: { image: '{{image:input_image}}' } },
      '2': {
        class_type: 'ImageScaleBy',
        inputs: { image: '{{image:input_image}}', upscale_method: 'lanczos', scale_by: '{{option:scale|2}}' },
      },
      '3': { class_type: 'SaveImageWebsocket', inputs: { images: ['1', 0] } },
      '4': { class_type: 'EmptyLatentImage', inputs: { width: 64, height: 64, batch_size: 1 } },
      '5': { class_type: 'SaveLatent', inputs: { samples: ['4', 0], filename_prefix: 'latents/x' } },
    };
    const backend = backendWith([], { 'upscale.json': template });

    const message = await thrown(() => backend.init!([{ index: 0, url: server.url }]));

    expect(message).toContain(
      'upscale.json node 2 (ImageScaleBy) input "image": accepts only a link (IMAGE), not {{image}}',
    );
    expect(message).toContain(
      'upscale.json node 5 (SaveLatent): is an output node; only the websocket output may be one',
    );
    expect(message).not.toMatch(/node [134] /);
  });

  it('refuses, when the backend is built, a template that saves to disk, a bad placeholder, or a file named after no operation', async () => {
    const saving = {
      '1': {
        class_type: 'EmptyLatentImage',
        inputs: { width: '{{width}}', height: '{{heigth}}', batch_size: 1 },
      },
      '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'x' } },
    };

    const message = await thrown(() =>
      backendWith([], { 'generate.json': saving, 'faceswp.json': saving, '_notes.json': 'not json' }),
    );

    expect(message).toContain('faceswp.json: not an operation name');
    expect(message).toContain(
      'generate.json node 1 (EmptyLatentImage) input "height": unknown placeholder {{heigth}}',
    );
    expect(message).toContain('generate.json node 2 (SaveImage): writes the image to disk on the GPU box');
    expect(message).toContain('generate.json: needs exactly one websocket output node');
    expect(message).not.toContain('_notes.json');
  });

  it('a server without the LoRA slot’s loader still starts: jobs without LoRAs run, jobs with LoRAs go elsewhere', async () => {
    const server = await stub({ without: ['LoraLoader'] });
    const backend = backendWith(['generate.json']);
    const endpoint = { index: 0, url: server.url };

    await backend.init!([endpoint]);
    const plain = await backend.run(endpoint, makeRequest());
    const err = await failure(
      backend.run(
        endpoint,
        makeRequest({ adapter: { loras: [{ name: 'keeper_face.safetensors', weight: 1 }] } }),
      ),
    );

    expect(plain.image.length).toBeGreaterThan(0);
    expect(err).toMatchObject({ code: 'MODEL_UNAVAILABLE', retryable: true });
    expect(err.message).toBe(
      `comfyui at ${new URL(server.url).host}: generate.json node 10 (LoraLoader "LoRA slot (one per profile LoRA)"): this server has no LoraLoader, so the profile's LoRAs cannot be applied here`,
    );
    expect(server.submissions).toHaveLength(1);
  });

  it('a server that is down at start is checked by its first job; init fails only when none answers', async () => {
    const server = await stub();
    const down = { index: 1, url: `http://127.0.0.1:${await closedPort()}` };
    const backend = backendWith(['generate.json']);

    await backend.init!([{ index: 0, url: server.url }, down]);
    const err = await failure(backend.run(down, makeRequest()));
    const none = await thrown(() => backendWith(['generate.json']).init!([down]));

    expect(err).toMatchObject({ code: 'MODEL_UNAVAILABLE', retryable: true });
    expect(err.message).toContain('ECONNREFUSED');
    expect(none).toMatch(/^no comfyui server answered: .*ECONNREFUSED/);
  });

  it('a proxy refusing the worker’s credentials fails start-up saying so', async () => {
    const server = await stub({ requireHeader: { name: 'Authorization', value: 'Bearer right' } });
    const backend = backendWith(['generate.json']);

    const message = await thrown(() => backend.init!([{ index: 0, url: server.url }]));

    expect(message).toContain('answered 401 to GET /object_info');
  });
});
