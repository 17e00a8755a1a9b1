/**
 * Issue 10, "every identity call with a profile to completion against image URLs on a local server", and
 * "the Redis scan for input URLs after the jobs end". Each call is the official client's exact body
 * (`identity.lock`, `replace`, `faceswap`, `instamodel`, `tryon`, and `generate.image(logo_url=...)`) plus a
 * profile made with `create_profile`; the input images are served on loopback (INPUT_ALLOW_LOOPBACK=true) and
 * fetched by the worker when each job starts. Checked per operation: the profile's template join in `prompt`,
 * the pinned size and format over the client's defaults, the fixed seed, and that the result visibly depends
 * on its inputs — the simulated backend is deterministic, so the same inputs give the same bytes and another
 * input image gives other bytes. Then every Redis key under the test's prefix is read whole: no input URL,
 * no path of one, not the image server's host:port, and no sealed input list left in any record (SPEC §3b,
 * §9).
 */
import { createHash } from 'node:crypto';
import {
  type ApiHarness,
  type WorkerHarness,
  dumpRedis,
  startApi,
  startWorker,
  waitFor,
} from '@castforge/testkit';
import { type ImageServer, serve, startImageServer, testImage } from '@castforge/testkit/image-server';
import { type SdkClient, sdkBody, sdkClient } from '@castforge/testkit/sdk-client';
import sharp from 'sharp';

const TEMPLATE = 'studio model, auburn bob, freckles, green eyes';
const PROFILE = { width: 512, height: 640 };
const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/** Input images, at paths no other string in Redis could contain by chance. */
const IMAGES = {
  faceA: '/sdk-inputs/face-a-5c81.png',
  faceB: '/sdk-inputs/face-b-9e02.jpg',
  /** faceA's bytes at another URL. */
  faceACopy: '/sdk-inputs/face-a-copy-0d4e.png',
  sceneA: '/sdk-inputs/scene-a-13fd.webp',
  sceneB: '/sdk-inputs/scene-b-77ac.png',
  shirtA: '/sdk-inputs/shirt-a-40b6.png',
  shirtB: '/sdk-inputs/shirt-b-c3d9.png',
  logo: '/sdk-inputs/logo-e8a1.png',
  slowLogo: '/sdk-inputs/logo-held-2f6b.png',
} as const;

describe('the official client: every identity call with a profile, on input images served locally', () => {
  let api: ApiHarness;
  let worker: WorkerHarness;
  let images: ImageServer;
  let releaseHeldLogo: () => void;

  beforeAll(async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    releaseHeldLogo = release;
    const logo = await testImage('png', 32, 32, [10, 10, 10]);
    const faceA = await testImage('png', 64, 80, [200, 60, 50]);
    images = await startImageServer({
      [IMAGES.faceA]: serve(faceA, 'image/png'),
      [IMAGES.faceACopy]: serve(faceA, 'image/png'),
      [IMAGES.faceB]: serve(await testImage('jpeg', 64, 80, [40, 70, 210]), 'image/jpeg'),
      [IMAGES.sceneA]: serve(await testImage('webp', 96, 64, [30, 160, 60]), 'image/webp'),
      [IMAGES.sceneB]: serve(await testImage('png', 96, 64, [230, 200, 30]), 'image/png'),
      [IMAGES.shirtA]: serve(await testImage('png', 48, 48, [250, 250, 250]), 'image/png'),
      [IMAGES.shirtB]: serve(await testImage('png', 48, 48, [120, 0, 140]), 'image/png'),
      [IMAGES.logo]: serve(logo, 'image/png'),
      // Answers only when the test says so: the job is held while the worker fetches it.
      [IMAGES.slowLogo]: async (_req, res) => {
        await held;
        res.writeHead(200, { 'content-type': 'image/png' }).end(logo);
      },
    });
    api = await startApi('story-sdk-identity', { INPUT_ALLOW_LOOPBACK: 'true' });
    worker = await startWorker(api.services, { INPUT_ALLOW_LOOPBACK: 'true', SIMULATED_STEP_MS: '1' });
  });
  afterAll(async () => {
    releaseHeldLogo();
    await worker?.close();
    await api?.close();
    await images?.close();
  });

  /** A tenant's client, once the deployment says (GET /v1/user/details) that it runs the identity operations. */
  const clientFor = async (tenant: string) => {
    const ip = sdkClient(api.baseUrl, await api.keyFor(tenant));
    await waitFor(
      async () => {
        const account = await ip.account();
        const ops = (account.operations as { operation: string }[]).map((o) => o.operation);
        return ['lock', 'replace', 'faceswap', 'instamodel', 'tryon'].every((op) => ops.includes(op));
      },
      { timeoutMs: 10_000, intervalMs: 200, what: 'the worker to declare the identity operations' },
    );
    return ip;
  };
  const createProfile = async (ip: SdkClient) => {
    const profile = await ip.post(
      '/profiles/v1',
      sdkBody.createProfile('Studio Model', {
        prompt_template: TEMPLATE,
        steps: 4,
        width: PROFILE.width,
        height: PROFILE.height,
        output_format: 'png',
        seed_strategy: 'fixed',
        fixed_seed: 42,
      }),
    );
    return profile.profile_id as string;
  };
  const download = async (ip: SdkClient, resultUrl: string) => {
    const link = new URL(resultUrl);
    const answer = await ip.send('GET', `${link.pathname}${link.search}`);
    expect(answer.status).toBe(200);
    return answer.bytes;
  };
  /** submit_and_poll, then the result's bytes and what sharp reads of them. */
  const run = async (ip: SdkClient, endpoint: string, body: Record<string, unknown>) => {
    const { job, status } = await ip.submitAndPoll(endpoint, body);
    const bytes = await download(ip, job.result_url as string);
    return { job, status, bytes, meta: await sharp(bytes).metadata() };
  };
  type Run = Awaited<ReturnType<typeof run>>;

  /** What every identity job of this profile shows: png, the fixed seed, the joined prompt and its hash. */
  const expectProfileApplied = (result: Run, prompt: string, size: { width: number; height: number }) => {
    expect(result.job).toMatchObject({
      status: 'completed',
      result_mime_type: 'image/png',
      error: null,
      warnings: null,
      prompt_hash: sha256(prompt),
      processing_time_seconds: expect.any(Number),
    });
    expect(result.status).toMatchObject({ seed: 42, prompt });
    expect(result.meta).toMatchObject({ format: 'png', ...size });
  };

  it('runs lock, replace and instamodel with the profile’s template joined, its size and png, and the face that was sent', async () => {
    const ip = await clientFor('sdk-identity-prompted');
    const profile_id = await createProfile(ip);
    const at = images.at.bind(images);
    const cases = [
      {
        endpoint: 'identity/lock/image/v1',
        body: (face: string) => sdkBody.lock(at(face), 'on a windy beach at dawn', { profile_id }),
        prompt: 'on a windy beach at dawn',
        inputs: [IMAGES.faceA, IMAGES.faceB],
      },
      {
        endpoint: 'identity/replace/image/v1',
        body: (scene: string) => sdkBody.lock(at(scene), 'a tall woman in a raincoat', { profile_id }),
        prompt: 'a tall woman in a raincoat',
        inputs: [IMAGES.sceneA, IMAGES.sceneB],
      },
      {
        endpoint: 'creator/instamodel/image/v1',
        body: (face: string) => sdkBody.instamodel(at(face), 'in a neon-lit cafe', { profile_id }),
        prompt: 'in a neon-lit cafe',
        inputs: [IMAGES.faceA, IMAGES.faceB],
      },
    ];
    // The client's bodies, as its resources build them (defaults 1024×1024 / 768×1024 webp, seed -1).
    expect(cases[0]!.body(IMAGES.faceA)).toEqual({
      input_image: at(IMAGES.faceA),
      prompt: 'on a windy beach at dawn',
      width: 1024,
      height: 1024,
      seed: -1,
      profile_id,
    });
    expect(cases[2]!.body(IMAGES.faceA)).toEqual({
      input_face: at(IMAGES.faceA),
      prompt: 'in a neon-lit cafe',
      width: 768,
      height: 1024,
      output_format: 'webp',
      profile_id,
    });

    const results = await Promise.all(
      cases.map(async (c) => {
        const [first, again, other] = await Promise.all([
          run(ip, c.endpoint, c.body(c.inputs[0]!)),
          run(ip, c.endpoint, c.body(c.inputs[0]!)),
          run(ip, c.endpoint, c.body(c.inputs[1]!)),
        ]);
        return { c, first, again, other };
      }),
    );
    for (const { c, first, again, other } of results) {
      for (const result of [first, again, other]) {
        expect({ endpoint: result.job.endpoint, status: result.status.endpoint }).toEqual({
          endpoint: c.endpoint,
          status: `/${c.endpoint}`,
        });
        expectProfileApplied(result, `${c.prompt}, ${TEMPLATE}`, PROFILE);
      }
      // Deterministic, and the input image is what changed the picture.
      expect({ endpoint: c.endpoint, same: sha256(again.bytes) }).toEqual({
        endpoint: c.endpoint,
        same: sha256(first.bytes),
      });
      expect({ endpoint: c.endpoint, other: sha256(other.bytes) }).not.toEqual({
        endpoint: c.endpoint,
        other: sha256(first.bytes),
      });
    }
    // It is the image's bytes that count, not its URL: the same face at another address, the same picture.
    const copy = await run(ip, cases[0]!.endpoint, cases[0]!.body(IMAGES.faceACopy));
    expect(sha256(copy.bytes)).toBe(sha256(results[0]!.first.bytes));
    for (const path of [IMAGES.faceA, IMAGES.faceACopy, IMAGES.faceB, IMAGES.sceneA, IMAGES.sceneB])
      expect(images.requests).toContain(path);
  });

  it('runs faceswap and tryon with the profile’s template as the prompt and png, on both images they were sent', async () => {
    const ip = await clientFor('sdk-identity-two-images');
    const profile_id = await createProfile(ip);
    const at = images.at.bind(images);
    const faceswap = (source: string, target: string) =>
      run(ip, 'identity/faceswap/image/v1', sdkBody.faceswap(at(source), at(target), { profile_id }));
    const tryon = (person: string, clothing: string) =>
      run(ip, 'creator/tryon/image/v1', sdkBody.tryon(at(person), at(clothing), { profile_id }));

    const [swap, swapAgain, otherSource, otherTarget, dress, dressAgain, otherPerson, otherClothing] =
      await Promise.all([
        faceswap(IMAGES.faceA, IMAGES.sceneA),
        faceswap(IMAGES.faceA, IMAGES.sceneA),
        faceswap(IMAGES.faceB, IMAGES.sceneA),
        faceswap(IMAGES.faceA, IMAGES.sceneB),
        tryon(IMAGES.faceA, IMAGES.shirtA),
        tryon(IMAGES.faceA, IMAGES.shirtA),
        tryon(IMAGES.faceB, IMAGES.shirtA),
        tryon(IMAGES.faceA, IMAGES.shirtB),
      ]);

    // Neither takes a prompt: the profile's template is the whole prompt (SPEC §3 join with no caller part).
    // faceswap pins only the format: its size is the target's (96×64) × the client's upscale 1.5.
    for (const result of [swap, swapAgain, otherSource, otherTarget])
      expectProfileApplied(result, TEMPLATE, { width: 144, height: 96 });
    // tryon pins the size too: the profile's 512×640 over the client's 832×1248.
    for (const result of [dress, dressAgain, otherPerson, otherClothing])
      expectProfileApplied(result, TEMPLATE, PROFILE);

    expect(sha256(swapAgain.bytes)).toBe(sha256(swap.bytes));
    expect(sha256(dressAgain.bytes)).toBe(sha256(dress.bytes));
    const distinct = (...runs: Run[]) => new Set(runs.map((r) => sha256(r.bytes))).size;
    expect(distinct(swap, otherSource, otherTarget)).toBe(3);
    expect(distinct(dress, otherPerson, otherClothing)).toBe(3);
  });

  it('places the caller’s prompt at {{ user_prompt }} for the profile of the client’s own docstring example', async () => {
    const ip = await clientFor('sdk-identity-slot');
    // ImagePipeline's client documents its profiles with this template (a Jinja-style slot).
    const profile = await ip.post(
      '/profiles/v1',
      sdkBody.createProfile('Brand Model', {
        prompt_template: '{{ user_prompt }}, Caucasian woman, 20s, blue eyes',
        seed_strategy: 'fixed',
        fixed_seed: 42,
        width: 256,
        height: 256,
        steps: 2,
      }),
    );
    const profile_id = profile.profile_id as string;
    const [generated, locked, swapped] = await Promise.all([
      ip.submitAndPoll('generate/image/v1', sdkBody.generateImage('sunset over tokyo', { profile_id })),
      ip.submitAndPoll(
        'identity/lock/image/v1',
        sdkBody.lock(images.at(IMAGES.faceA), 'at a night market', { profile_id }),
      ),
      ip.submitAndPoll(
        'identity/faceswap/image/v1',
        sdkBody.faceswap(images.at(IMAGES.faceB), images.at(IMAGES.sceneA), { profile_id }),
      ),
    ]);
    expect(generated.status).toMatchObject({
      status: 'completed',
      seed: 42,
      prompt: 'sunset over tokyo, Caucasian woman, 20s, blue eyes',
      // The client's default webp: this profile pins no format.
      result_mime_type: 'image/webp',
    });
    expect(locked.status).toMatchObject({
      status: 'completed',
      prompt: 'at a night market, Caucasian woman, 20s, blue eyes',
    });
    // No caller prompt: the slot's separator goes with it.
    expect(swapped.status).toMatchObject({ status: 'completed', prompt: 'Caucasian woman, 20s, blue eyes' });
  });

  it('composites generate.image’s logo_url bottom-right, 12 % of the width, 3 % margin, changing nothing else', async () => {
    const ip = await clientFor('sdk-identity-logo');
    const profile_id = await createProfile(ip);
    const prompt = 'a poster of a mountain lake';
    const [plain, branded] = await Promise.all([
      run(ip, 'generate/image/v1', sdkBody.generateImage(prompt, { profile_id })),
      run(
        ip,
        'generate/image/v1',
        sdkBody.generateImage(prompt, { profile_id, logo_url: images.at(IMAGES.logo) }),
      ),
    ]);
    expectProfileApplied(plain, `${prompt}, ${TEMPLATE}`, PROFILE);
    expectProfileApplied(branded, `${prompt}, ${TEMPLATE}`, PROFILE);

    // The two pngs differ only inside the logo's box.
    const pixels = async (bytes: Buffer) => sharp(bytes).removeAlpha().raw().toBuffer();
    const [a, b] = await Promise.all([pixels(plain.bytes), pixels(branded.bytes)]);
    let box = { left: Infinity, right: -1, top: Infinity, bottom: -1 };
    for (let y = 0; y < PROFILE.height; y++) {
      for (let x = 0; x < PROFILE.width; x++) {
        const i = (y * PROFILE.width + x) * 3;
        if (a[i] !== b[i] || a[i + 1] !== b[i + 1] || a[i + 2] !== b[i + 2]) {
          box = {
            left: Math.min(box.left, x),
            right: Math.max(box.right, x),
            top: Math.min(box.top, y),
            bottom: Math.max(box.bottom, y),
          };
        }
      }
    }
    const margin = Math.round(PROFILE.width * 0.03);
    const side = Math.round(PROFILE.width * 0.12);
    expect(box.right).toBeGreaterThan(0);
    expect(box.right).toBeLessThanOrEqual(PROFILE.width - margin - 1);
    expect(box.bottom).toBeLessThanOrEqual(PROFILE.height - margin - 1);
    expect(box.left).toBeGreaterThanOrEqual(PROFILE.width - margin - side);
    expect(box.top).toBeGreaterThanOrEqual(PROFILE.height - margin - side);
    expect(images.requests).toContain(IMAGES.logo);
  });

  it('keeps an input URL only sealed while its job waits, and nowhere in Redis once the jobs have ended', async () => {
    const ip = await clientFor('sdk-identity-scan');
    const profile_id = await createProfile(ip);
    const { redis, prefix } = api.services;

    // A job whose logo the image server holds back: it is queued, its worker mid-fetch.
    const held = await ip.submit(
      'generate/image/v1',
      sdkBody.generateImage('a held poster', { profile_id, logo_url: images.at(IMAGES.slowLogo) }),
    );
    await waitFor(() => images.requests.includes(IMAGES.slowLogo), {
      timeoutMs: 10_000,
      what: 'the worker to start fetching the held logo',
    });
    const whileFetching = [...(await dumpRedis(redis, prefix))];
    // The proof that the scan sees records: the held job's sealed input list is there, its URL is not.
    expect(
      whileFetching.filter(
        ([key, content]) => key.endsWith(`:job:${held.job_id}`) && /"inputs":"v1\./.test(content),
      ),
    ).toHaveLength(1);
    expect(whileFetching.filter(([, content]) => content.includes(IMAGES.slowLogo))).toEqual([]);
    releaseHeldLogo();
    const { job } = await ip.poll('generate/image/v1', held.job_id);
    expect(job.status).toBe('completed');

    // Every job of this file has ended (each test waited for its own).
    const needles = [
      images.url,
      images.url.replace(/^http:\/\//, ''),
      ...Object.values(IMAGES),
      ...Object.values(IMAGES).map((path) => path.split('/').pop()!),
    ];
    const dump = await dumpRedis(redis, prefix);
    expect(dump.size).toBeGreaterThan(0);
    const leaks = [...dump].flatMap(([key, content]) =>
      needles.filter((n) => key.includes(n) || content.includes(n)).map((n) => `${key} holds ${n}`),
    );
    expect(leaks).toEqual([]);
    const sealedInputsLeft = [...dump]
      .filter(([, content]) => /"inputs":"v1\./.test(content))
      .map(([key]) => key);
    expect(sealedInputsLeft).toEqual([]);
  });
});
