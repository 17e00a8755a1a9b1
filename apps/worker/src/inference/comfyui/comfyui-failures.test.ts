import { type AddressInfo, createServer } from 'node:net';
import { testLogger } from '@castforge/testkit';
import { failure, makeRequest, pngOf, templatesDir } from '@castforge/testkit/comfyui-kit';
import { startComfyStub } from '@castforge/testkit/comfyui-stub';
import { type Endpoint } from '../inference-backend';
import { createComfyuiBackend } from './comfyui-backend';

const logger = testLogger('comfyui-failures.test');
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setUp() {
  const stub = await startComfyStub();
  cleanups.push(() => stub.close());
  const templates = templatesDir(['generate.json', 'lock.json']);
  cleanups.push(templates.cleanup);
  const backend = createComfyuiBackend({ workflowsDir: templates.dir, logger });
  const endpoint: Endpoint = { index: 0, url: stub.url };
  await backend.init!([endpoint]);
  return { stub, backend, endpoint };
}

async function lockRequest(face?: Buffer) {
  const data = face ?? (await pngOf(32, 40));
  return makeRequest({
    operation: 'lock',
    images: { input_image: { data, mimeType: 'image/png', width: 32, height: 40 } },
  });
}

describe('comfyui backend: execution errors end the job with the node’s message', () => {
  it('a face detector finding no face is the input’s fault: INPUT_INVALID, naming the node', async () => {
    const { stub, backend, endpoint } = await setUp();
    stub.script({ fail: { node: 'ApplyInstantID', message: 'Reference Image: No face detected.' } });
    const request = await lockRequest();

    const err = await failure(backend.run(endpoint, request));

    expect(err).toMatchObject({ code: 'INPUT_INVALID', retryable: false });
    expect(err.message).toBe(
      'comfyui failed at lock.json node 9 (ApplyInstantID "Apply InstantID"): Exception: Reference Image: No face detected.',
    );
    // execution_error echoes current_inputs, the base64 face among them: none of it is kept.
    expect(err.message).not.toContain(request.images.input_image!.data.toString('base64').slice(0, 40));
    expect(stub.historyIds()).toEqual([]);
  });

  it('an out-of-memory in the sampler is MODEL_ERROR (retried), with the exception type and message', async () => {
    const { stub, backend, endpoint } = await setUp();
    stub.script({
      fail: {
        node: 'KSampler',
        type: 'torch.OutOfMemoryError',
        message: 'CUDA out of memory. Tried to allocate 2.00 GiB',
      },
    });

    const err = await failure(backend.run(endpoint, makeRequest()));

    expect(err).toMatchObject({ code: 'MODEL_ERROR', retryable: true });
    expect(err.message).toBe(
      'comfyui failed at generate.json node 3 (KSampler "Sampler"): torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB',
    );
  });

  it('an input image the loader cannot decode is INPUT_INVALID', async () => {
    const { backend, endpoint } = await setUp();

    const err = await failure(backend.run(endpoint, await lockRequest(Buffer.from('not an image at all'))));

    expect(err).toMatchObject({ code: 'INPUT_INVALID' });
    expect(err.message).toContain(
      'lock.json node 6 (ETN_LoadImageBase64 "Face (input_image, inline)"): PIL.UnidentifiedImageError',
    );
  });
});

describe('comfyui backend: node_errors (400 from /prompt)', () => {
  it('a checkpoint the server lacks is INPUT_INVALID naming the node and ComfyUI’s reason', async () => {
    const { stub, backend, endpoint } = await setUp();

    const err = await failure(
      backend.run(endpoint, makeRequest({ adapter: { model: 'missing.safetensors' } })),
    );

    expect(err).toMatchObject({ code: 'INPUT_INVALID', retryable: false });
    expect(err.message).toContain(
      `comfyui at ${new URL(stub.url).host} refused generate.json: node 4 (CheckpointLoaderSimple "Checkpoint (profile adapter.model)"): Value not in list: ckpt_name: 'missing.safetensors' not in`,
    );
    expect(stub.historyIds()).toEqual([]);
  });

  it('a value out of the node’s range is INPUT_INVALID', async () => {
    const { backend, endpoint } = await setUp();

    const err = await failure(
      backend.run(
        endpoint,
        makeRequest({
          adapter: { identity_strength: 1.2, loras: [{ name: 'keeper_face.safetensors', weight: 500 }] },
        }),
      ),
    );

    expect(err.code).toBe('INPUT_INVALID');
    expect(err.message).toContain(
      'node 10 (LoraLoader "LoRA slot (one per profile LoRA)"): Value 500 bigger than max of 100: strength_model',
    );
  });

  it('a field the template needs but the job lacks fails before anything is sent', async () => {
    const { stub, backend, endpoint } = await setUp();

    const err = await failure(backend.run(endpoint, makeRequest({ operation: 'lock' })));

    expect(err.code).toBe('INPUT_INVALID');
    expect(err.message).toContain(
      'lock.json node 6 (ETN_LoadImageBase64 "Face (input_image, inline)") input "image" needs the request\'s input_image image',
    );
    expect(stub.submissions).toEqual([]);
  });
});

describe('comfyui backend: unreachable', () => {
  it('a server that went away after start fails MODEL_UNAVAILABLE naming the host and the cause', async () => {
    const { stub, backend, endpoint } = await setUp();
    await stub.close();

    const err = await failure(backend.run(endpoint, makeRequest()));

    expect(err).toMatchObject({ code: 'MODEL_UNAVAILABLE', retryable: true });
    expect(err.message).toMatch(
      new RegExp(`comfyui at ${new URL(stub.url).host} refused the websocket: .*ECONNREFUSED`),
    );
  });

  it('a URL where nothing ever listened fails MODEL_UNAVAILABLE too', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    const templates = templatesDir(['generate.json']);
    cleanups.push(templates.cleanup);
    const backend = createComfyuiBackend({ workflowsDir: templates.dir, logger });

    const err = await failure(backend.run({ index: 2, url: `http://127.0.0.1:${port}` }, makeRequest()));

    expect(err).toMatchObject({ code: 'MODEL_UNAVAILABLE' });
    expect(err.message).toContain('ECONNREFUSED');
  });
});
