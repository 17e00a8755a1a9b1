import { randomBytes } from 'node:crypto';
import { testLogger } from '@castforge/testkit';
import { type A1111Stub, type A1111StubOptions, startA1111Stub } from '@castforge/testkit/a1111-stub';
import sharp from 'sharp';
import { createA1111Backend } from './a1111';
import { DEFAULT_A1111_CONTROLNET, DEFAULT_IDENTITY_WEIGHT } from './a1111-controlnet';
import { type Endpoint, type InferenceRequest, type InputImage, InferenceError } from './inference-backend';

const logger = testLogger('a1111-identity.test');
const stubs: A1111Stub[] = [];
afterEach(async () => {
  await Promise.all(stubs.splice(0).map((stub) => stub.close()));
});
async function openStub(options: A1111StubOptions = {}) {
  const stub = await startA1111Stub({ generationMs: 20, ...options });
  stubs.push(stub);
  return { stub, endpoint: { index: 0, url: stub.url } satisfies Endpoint };
}

async function face(width = 96, height = 128): Promise<InputImage> {
  const data = await sharp({ create: { width, height, channels: 3, background: { r: 210, g: 160, b: 130 } } })
    .png()
    .toBuffer();
  return { data, mimeType: 'image/png', width, height };
}

function makeRequest(overrides: Partial<InferenceRequest> = {}): InferenceRequest {
  return {
    jobId: `job_${randomBytes(8).toString('hex')}`,
    operation: 'generate',
    images: {},
    options: {},
    prompt: 'on a pier at night, a woman',
    steps: 8,
    guidance: 5,
    seed: 42,
    width: 64,
    height: 64,
    outputFormat: 'png',
    signal: new AbortController().signal,
    onProgress: () => undefined,
    ...overrides,
  };
}

async function failure(promise: Promise<unknown>): Promise<InferenceError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof InferenceError)) throw new Error(`expected an InferenceError, got ${String(err)}`);
  return err;
}

type Unit = Record<string, unknown>;
const unitsSent = (stub: A1111Stub, i = 0) =>
  (stub.requests[i]!.body.alwayson_scripts as { controlnet: { args: Unit[] } }).controlnet.args;

const backend = createA1111Backend({ logger, progressIntervalMs: 20 });

describe('a1111 backend: lock and instamodel through ControlNet units', () => {
  it('declares generate, lock and instamodel', () => {
    expect([...backend.operations].sort()).toEqual(['generate', 'instamodel', 'lock']);
  });

  it('sends the lock face as the InstantID embedding unit, then the keypoints unit, as bare base64', async () => {
    const { stub, endpoint } = await openStub();
    const image = await face();

    const result = await backend.run(
      endpoint,
      makeRequest({ operation: 'lock', images: { input_image: image } }),
    );

    expect(result.seed).toBe(42);
    const units = unitsSent(stub);
    const common = {
      enabled: true,
      weight: DEFAULT_IDENTITY_WEIGHT,
      image: image.data.toString('base64'),
      save_detected_map: false,
    };
    expect(units).toEqual([
      expect.objectContaining({
        ...common,
        module: 'instant_id_face_embedding',
        model: 'ip-adapter_instant_id_sdxl',
      }),
      expect.objectContaining({
        ...common,
        module: 'instant_id_face_keypoints',
        model: 'control_instant_id_sdxl',
      }),
    ]);
    expect(String(units[0]!.image)).not.toMatch(/^data:/);
    // The stub decoded both, as the extension would.
    expect(stub.units[0]!.map((u) => [u.module, u.image.width, u.image.height])).toEqual([
      ['instant_id_face_embedding', 96, 128],
      ['instant_id_face_keypoints', 96, 128],
    ]);
    expect(stub.requests[0]!.body).toMatchObject({
      prompt: 'on a pier at night, a woman',
      seed: 42,
      save_images: false,
    });
  });

  it("sends instamodel's input_face the same way", async () => {
    const { stub, endpoint } = await openStub();
    await backend.run(
      endpoint,
      makeRequest({ operation: 'instamodel', images: { input_face: await face(50, 60) } }),
    );
    expect(stub.units[0]!.map((u) => [u.module, u.image.width])).toEqual([
      ['instant_id_face_embedding', 50],
      ['instant_id_face_keypoints', 50],
    ]);
  });

  it.each([
    ['ip_adapter_faceid', 1.3, 'ip-adapter_face_id_plus', 'ip-adapter-faceid-plusv2_sdxl'],
    ['pulid', 0.5, 'ip-adapter_pulid', 'ip-adapter_pulid_sdxl_fp16'],
  ] as const)(
    'with identity_adapter %s, sends one unit weighted by identity_strength',
    async (adapter, strength, module, model) => {
      const { stub, endpoint } = await openStub();
      await backend.run(
        endpoint,
        makeRequest({
          operation: 'lock',
          images: { input_image: await face() },
          adapter: { identity_adapter: adapter, identity_strength: strength },
        }),
      );
      expect(unitsSent(stub)).toEqual([expect.objectContaining({ module, model, weight: strength })]);
      expect(stub.units[0]).toHaveLength(1);
    },
  );

  it("keeps the operator's alwayson_scripts, with the face units ahead of their ControlNet units", async () => {
    const { stub, endpoint } = await openStub();
    const pose = {
      enabled: true,
      module: 'openpose',
      model: 'control_v11p_sd15_openpose',
      image: (await face(8, 8)).data.toString('base64'),
    };
    await backend.run(
      endpoint,
      makeRequest({
        operation: 'lock',
        images: { input_image: await face() },
        adapter: {
          extra: { alwayson_scripts: { ControlNet: { args: [pose] }, ADetailer: { args: [true] } } },
        },
      }),
    );
    const scripts = stub.requests[0]!.body.alwayson_scripts as Record<string, { args: Unit[] }>;
    expect(Object.keys(scripts).sort()).toEqual(['ADetailer', 'controlnet']);
    expect(scripts.controlnet!.args.map((u) => u.module)).toEqual([
      'instant_id_face_embedding',
      'instant_id_face_keypoints',
      'openpose',
    ]);
    expect(scripts.ADetailer).toEqual({ args: [true] });
  });

  it('scales a large face down to 1024 px before sending it', async () => {
    const { stub, endpoint } = await openStub();
    await backend.run(
      endpoint,
      makeRequest({ operation: 'lock', images: { input_image: await face(2048, 1536) } }),
    );
    expect(stub.units[0]![0]!.image).toEqual({ width: 1024, height: 768, format: 'png' });
  });

  it('uses the configured module and model names (Forge calls the embedding module otherwise)', async () => {
    const forgeModules = ['none', 'InsightFace (InstantID)', 'instant_id_face_keypoints'];
    const { stub, endpoint } = await openStub({ controlnet: { modules: forgeModules } });
    const forge = createA1111Backend({
      logger,
      progressIntervalMs: 20,
      controlnet: { instantidEmbeddingModule: 'InsightFace (InstantID)' },
    });
    await forge.run(endpoint, makeRequest({ operation: 'lock', images: { input_image: await face() } }));
    expect(unitsSent(stub).map((u) => [u.module, u.model])).toEqual([
      ['InsightFace (InstantID)', DEFAULT_A1111_CONTROLNET.instantidEmbeddingModel],
      ['instant_id_face_keypoints', DEFAULT_A1111_CONTROLNET.instantidKeypointsModel],
    ]);
  });

  it('when the server does not know a module, fails with INPUT_INVALID naming it', async () => {
    const { endpoint } = await openStub({ controlnet: { modules: ['none', 'canny'] } });
    const err = await failure(
      backend.run(endpoint, makeRequest({ operation: 'lock', images: { input_image: await face() } })),
    );
    expect(err.code).toBe('INPUT_INVALID');
    expect(err.message).toContain('module "instant_id_face_embedding" is not a preprocessor');
  });

  it('when ControlNet is not installed, fails with INPUT_INVALID saying the script is missing', async () => {
    const { endpoint } = await openStub({ controlnet: false });
    const err = await failure(
      backend.run(endpoint, makeRequest({ operation: 'lock', images: { input_image: await face() } })),
    );
    expect(err).toMatchObject({ code: 'INPUT_INVALID', retryable: false });
    expect(err.message).toContain('always on script controlnet not found');
  });

  it('without the face, fails with INPUT_INVALID and sends nothing', async () => {
    const { stub, endpoint } = await openStub();
    const err = await failure(backend.run(endpoint, makeRequest({ operation: 'instamodel', images: {} })));
    expect(err.message).toBe('instamodel needs the input image input_face');
    expect(stub.requests).toHaveLength(0);
  });

  it('sends no ControlNet unit for generate', async () => {
    const { stub, endpoint } = await openStub();
    await backend.run(endpoint, makeRequest({ images: { input_image: await face() } }));
    expect(stub.requests[0]!.body).not.toHaveProperty('alwayson_scripts');
  });
});

describe('a1111 stub: ControlNet units as the extension checks them', () => {
  const post = (stub: A1111Stub, args: unknown[], title = 'controlnet') =>
    fetch(`${stub.url}/sdapi/v1/txt2img`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        prompt: 'x',
        width: 16,
        height: 16,
        steps: 1,
        alwayson_scripts: { [title]: { args } },
      }),
    });
  const b64 = async () => (await face(8, 8)).data.toString('base64');

  it.each([
    [
      'an unknown module',
      async () => [{ enabled: true, module: 'face_magic', image: await b64() }],
      'module "face_magic" is not a preprocessor',
    ],
    [
      'an enabled unit without an image',
      () => Promise.resolve([{ enabled: true, module: 'canny' }]),
      'no input image is given',
    ],
    [
      'an image that is not base64 of an image',
      () => Promise.resolve([{ enabled: true, module: 'canny', image: 'aGVsbG8=' }]),
      'image is not a base64 image',
    ],
    [
      'a weight above 2',
      async () => [{ enabled: true, module: 'canny', image: await b64(), weight: 3 }],
      'weight 3 is outside 0–2',
    ],
    [
      'an InstantID embedding without the keypoints unit after it',
      async () => [{ enabled: true, module: 'instant_id_face_embedding', image: await b64() }],
      'InstantID control model should follow ipadapter model.',
    ],
  ])('refuses %s with 422', async (_label, args, detail) => {
    const { stub } = await openStub();
    const res = await post(stub, await args());
    expect(res.status).toBe(422);
    expect(((await res.json()) as { detail: string }).detail).toContain(detail);
  });

  it('ignores disabled units, matches the script title in any case, and accepts a data: prefix', async () => {
    const { stub } = await openStub();
    const image = `data:image/png;base64,${await b64()}`;
    const res = await post(
      stub,
      [{ module: 'face_magic' }, { enabled: true, module: 'canny', image }],
      'ControlNet',
    );
    expect(res.status).toBe(200);
    expect(stub.units[0]).toEqual([
      { module: 'canny', model: 'None', weight: 1, image: { width: 8, height: 8, format: 'png' } },
    ]);
  });

  it('lists its preprocessors and models, and refuses the script when ControlNet is not installed', async () => {
    const { stub } = await openStub();
    const modules = (await (await fetch(`${stub.url}/controlnet/module_list`)).json()) as {
      module_list: string[];
    };
    expect(modules.module_list).toContain('instant_id_face_embedding');
    const { stub: bare } = await openStub({ controlnet: false });
    expect((await fetch(`${bare.url}/controlnet/module_list`)).status).toBe(404);
    expect((await post(bare, [])).status).toBe(422);
  });
});
