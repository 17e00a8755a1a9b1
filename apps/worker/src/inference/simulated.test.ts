import { OperationName } from '@castforge/schemas';
import sharp from 'sharp';
import {
  type InferenceRequest,
  type InferenceResult,
  type InputImage,
  JobCancelledError,
} from './inference-backend';
import { createSimulatedBackend } from './simulated';
import { CELL_HEIGHT, CELL_WIDTH, FONT_CHARS, GLYPH_HEIGHT, GLYPH_WIDTH, bitmapOf } from './simulated-font';

const endpoint = { index: 0, url: 'simulated://0' };
const backend = createSimulatedBackend({ stepMs: 0 });

const RED = [220, 20, 20];
const GREEN = [20, 200, 40];
const BLUE = [30, 40, 220];
const YELLOW = [240, 220, 20];

async function solid(rgb: number[], width = 64, height = 64): Promise<InputImage> {
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < width * height; i++) pixels.set(rgb, i * 3);
  const data = await sharp(pixels, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
  return { data, mimeType: 'image/png', width, height };
}

function makeRequest(overrides: Partial<InferenceRequest> = {}): InferenceRequest {
  return {
    jobId: 'job_0123456789abcdef',
    operation: 'generate',
    prompt: 'on a beach at sunset, a woman',
    steps: 4,
    guidance: 7,
    seed: 1234,
    width: 256,
    height: 256,
    outputFormat: 'png',
    images: {},
    options: {},
    signal: new AbortController().signal,
    onProgress: () => undefined,
    ...overrides,
  };
}

/** The inputs each operation needs: distinct solid colours, so their pixels can be told apart. */
async function inputsFor(operation: OperationName): Promise<Record<string, InputImage>> {
  const [red, green, blue, yellow] = await Promise.all([
    solid(RED),
    solid(GREEN, 96, 64),
    solid(BLUE),
    solid(YELLOW),
  ]);
  const table: Record<OperationName, Record<string, InputImage>> = {
    generate: {},
    lock: { input_image: red },
    replace: { input_image: green },
    faceswap: { source: red, target: green },
    instamodel: { input_face: red },
    tryon: { person_image: blue, clothing_image: yellow },
    edit: { input_image: green },
    'background-change': { input_image: red },
    'background-remove': { input_image: red },
    'branding-logo': { input_image: green, logo_url: red },
    'branding-template': { input_image: red, logo_url: yellow },
    upscale: { input_image: green },
    segment: { image_url: blue },
  };
  return table[operation];
}

const pixel = (result: InferenceResult, x: number, y: number) => {
  const { width, channels } = result.raw!;
  const at = (Math.round(y) * width + Math.round(x)) * channels;
  return [...result.image.subarray(at, at + channels)];
};
const near = (actual: number[], expected: number[], tolerance = 40) =>
  expected.every((v, i) => Math.abs(actual[i]! - v) <= tolerance);

describe('the simulated backend', () => {
  it('declares every operation', () => {
    expect([...backend.operations].sort()).toEqual([...OperationName.options].sort());
  });

  describe.each(OperationName.options)('%s', (operation) => {
    it('renders the same bytes for the same request, and others for another seed or other inputs', async () => {
      const images = await inputsFor(operation);
      const first = await backend.run(endpoint, makeRequest({ operation, images }));
      const again = await backend.run(endpoint, makeRequest({ operation, images }));
      const reseeded = await backend.run(endpoint, makeRequest({ operation, images, seed: 99 }));

      expect(first.raw).toBeDefined();
      expect(first.image.length).toBe(first.raw!.width * first.raw!.height * first.raw!.channels);
      expect(again.image.equals(first.image)).toBe(true);
      expect(reseeded.image.equals(first.image)).toBe(false);
      expect(first.seed).toBe(1234);

      const [field] = Object.keys(images);
      if (field) {
        const swapped = { ...images, [field]: await solid([128, 128, 128], 80, 80) };
        const other = await backend.run(endpoint, makeRequest({ operation, images: swapped }));
        expect(other.image.equals(first.image)).toBe(false);
      }
    });

    if (operation !== 'generate' && operation !== 'edit') {
      it('refuses a request without its input image', async () => {
        await expect(backend.run(endpoint, makeRequest({ operation }))).rejects.toMatchObject({
          code: 'INPUT_INVALID',
          message: expect.stringMatching(new RegExp(`^${operation} needs the input image `)),
        });
      });
    }
  });

  describe('visibly uses its inputs', () => {
    const run = async (operation: OperationName, extra: Partial<InferenceRequest> = {}) =>
      backend.run(endpoint, makeRequest({ operation, images: await inputsFor(operation), ...extra }));

    it('lock and instamodel put the input face in the middle of a generated scene', async () => {
      for (const operation of ['lock', 'instamodel'] as const) {
        const out = await run(operation);
        expect(near(pixel(out, 128, 115), RED)).toBe(true);
        expect(near(pixel(out, 5, 250), RED)).toBe(false);
      }
    });

    it('replace keeps the input as the background and puts a figure in the middle', async () => {
      const out = await run('replace');
      expect(near(pixel(out, 10, 250), GREEN)).toBe(true);
      expect(near(pixel(out, 128, 200), GREEN)).toBe(false);
    });

    it("faceswap places the source's pixels in the target, upscaled", async () => {
      const out = await run('faceswap', { options: { upscale: 2, restore_weight: 0.5 } });
      expect(out.raw).toMatchObject({ width: 192, height: 128 });
      expect(near(pixel(out, 96, 40), RED)).toBe(true);
      expect(near(pixel(out, 5, 120), GREEN)).toBe(true);
    });

    it('tryon blends the clothing over the person', async () => {
      const out = await run('tryon');
      const torso = pixel(out, 128, 150);
      expect(near(torso, YELLOW, 70)).toBe(true);
      expect(near(pixel(out, 5, 250), BLUE)).toBe(true);
    });

    it('upscale scales the input by `scale`', async () => {
      expect((await run('upscale', { options: { scale: 3 } })).raw).toMatchObject({
        width: 288,
        height: 192,
      });
    });

    it('background-remove keeps the subject and clears the rest, or fills it with recolor', async () => {
      const cleared = await run('background-remove');
      expect(cleared.raw!.channels).toBe(4);
      expect(pixel(cleared, 1, 62)[3]).toBe(0);
      expect(near(pixel(cleared, 32, 45), [...RED, 255])).toBe(true);
      const recoloured = await run('background-remove', { options: { recolor: '#00ff00' } });
      expect(near(pixel(recoloured, 1, 62), [0, 255, 0, 255], 2)).toBe(true);
    });

    it('branding-logo stamps the logo in the corner asked for', async () => {
      const out = await run('branding-logo', { options: { position: 'bottom_right' } });
      const { width, height } = out.raw!;
      expect(near(pixel(out, width - width * 0.03 - 3, height - height * 0.03 - 3), RED)).toBe(true);
      expect(near(pixel(out, 5, height - 5), GREEN)).toBe(true);
    });

    it('background-change keeps the subject over a new background', async () => {
      const out = await run('background-change');
      expect(near(pixel(out, 32, 45), RED)).toBe(true);
      expect(near(pixel(out, 1, 62), RED)).toBe(false);
    });
  });

  describe('the caption', () => {
    /** Reads the caption back, sampling the middle of each font pixel (a caption drawn at `scale`). */
    function readCaption(
      image: { data: Buffer; width: number; channels: number },
      scale: number,
      lines: number,
    ) {
      const pad = 2 * scale;
      const lit = (x: number, y: number) => {
        const at = (Math.floor(y) * image.width + Math.floor(x)) * image.channels;
        return (image.data[at]! + image.data[at + 1]! + image.data[at + 2]!) / 3 > 150;
      };
      const glyphs = FONT_CHARS.map((char) => [char, bitmapOf(char).flat().join()] as const);
      return Array.from({ length: lines }, (_, line) => {
        let text = '';
        for (let col = 0; (col + 1) * CELL_WIDTH * scale + pad <= image.width; col++) {
          const cells = Array.from({ length: GLYPH_HEIGHT * GLYPH_WIDTH }, (_, i) =>
            lit(
              pad + (col * CELL_WIDTH + (i % GLYPH_WIDTH) + 0.5) * scale,
              pad + (line * CELL_HEIGHT + Math.floor(i / GLYPH_WIDTH) + 0.5) * scale,
            ),
          ).join();
          text += glyphs.find(([, bits]) => bits === cells)?.[0] ?? '~';
        }
        return text.trimEnd();
      });
    }

    it('says the operation, the seed and the identity label, in the image', async () => {
      const out = await backend.run(
        endpoint,
        makeRequest({
          operation: 'lock',
          images: await inputsFor('lock'),
          label: 'Maya Lin, lead',
          seed: 42,
        }),
      );
      const image = { data: out.image, width: out.raw!.width, channels: out.raw!.channels };
      // 256 px: scale 2, 20 columns.
      expect(readCaption(image, 2, 3)).toEqual(['LOCK', 'SEED 42', 'MAYA LIN, LEAD']);
    });

    it('shows the start of the prompt without a label', async () => {
      const out = await backend.run(
        endpoint,
        makeRequest({ prompt: 'standing on a pier at night in the rain' }),
      );
      const image = { data: out.image, width: out.raw!.width, channels: out.raw!.channels };
      expect(readCaption(image, 2, 5)).toEqual([
        'GENERATE',
        'SEED 1234',
        // Six words, then '...'; 20 columns at 256 px.
        'STANDING ON A PIER',
        'AT NIGHT ...',
        '',
      ]);
    });

    it('stays readable when a 1024 px result is shown as a 256 px thumbnail', async () => {
      const out = await backend.run(
        endpoint,
        makeRequest({ width: 1024, height: 1024, label: 'Amara Okafor', seed: 4294967295 }),
      );
      const thumb = await sharp(out.image, { raw: out.raw! })
        .resize(256, 256)
        .raw()
        .toBuffer({ resolveWithObject: true });
      // Drawn at scale 6 (1024 / 200, rounded up): 1.5 thumbnail pixels per font pixel.
      const image = { data: thumb.data, width: 256, channels: thumb.info.channels };
      expect(readCaption(image, 6 / 4, 3)).toEqual(['GENERATE', 'SEED 4294967295', 'AMARA OKAFOR']);
    });
  });

  describe('timing, progress and aborts, as before', () => {
    it('reports progress once per step, ending at 1', async () => {
      const progress: number[] = [];
      await backend.run(endpoint, makeRequest({ steps: 5, onProgress: (f) => progress.push(f) }));
      expect(progress).toEqual([0.2, 0.4, 0.6, 0.8, 1]);
    });

    it('stops at an abort with the reason given', async () => {
      const slow = createSimulatedBackend({ stepMs: 1000 });
      const controller = new AbortController();
      const pending = slow
        .run(endpoint, makeRequest({ steps: 50, signal: controller.signal }))
        .catch((e: unknown) => e);
      controller.abort(new JobCancelledError('cancelled'));
      await expect(pending).resolves.toMatchObject({ code: 'CANCELLED' });
    });

    it('with imageMs, spreads one image time over its steps', async () => {
      const timed = createSimulatedBackend({ stepMs: 1000, imageMs: 40 });
      const progress: number[] = [];
      await timed.run(endpoint, makeRequest({ steps: 4, onProgress: (f) => progress.push(f) }));
      expect(progress).toEqual([0.25, 0.5, 0.75, 1]);
    });
  });
});
