import sharp from 'sharp';
import { type InferenceResult, type InputImage } from '../inference/inference-backend';
import { compositeLogo } from './logo';

const BLUE = [20, 40, 200];
const RED = [230, 10, 10];

/** A raw RGB result of one colour. */
function solid(width: number, height: number, rgb = BLUE, channels: 3 | 4 = 3): InferenceResult {
  const image = Buffer.alloc(width * height * channels);
  for (let i = 0; i < width * height; i++) image.set(channels === 4 ? [...rgb, 255] : rgb, i * channels);
  return { image, raw: { width, height, channels }, seed: 9 };
}

/** A PNG logo: its left half transparent, its right half `rgb` at `alpha`. */
async function logoPng(width: number, height: number, alpha = 255, rgb = RED): Promise<InputImage> {
  const pixels = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++)
      pixels.set(x < width / 2 ? [0, 0, 0, 0] : [...rgb, alpha], (y * width + x) * 4);
  }
  const data = await sharp(pixels, { raw: { width, height, channels: 4 } })
    .png()
    .toBuffer();
  return { data, mimeType: 'image/png', width, height };
}

const pixel = (result: InferenceResult, x: number, y: number) => {
  const channels = result.raw!.channels;
  const at = (y * result.raw!.width + x) * channels;
  return [...result.image.subarray(at, at + 3)];
};
const near = (actual: number[], expected: number[], tolerance = 3) =>
  actual.every((v, i) => Math.abs(v - expected[i]!) <= tolerance);

describe('compositeLogo', () => {
  // 1000×500: the logo is 120 px wide (12 %), 60 px tall (2:1 kept), 30 px (3 %) from the right and bottom,
  // so it covers x 850–969, y 410–469; its opaque half is x 910–969.
  it('places the logo bottom-right at 12 % of the width with a 3 % margin, aspect kept', async () => {
    const out = await compositeLogo(solid(1000, 500), await logoPng(200, 100));

    expect(out.raw).toEqual({ width: 1000, height: 500, channels: 3 });
    expect(out.seed).toBe(9);
    for (const [x, y] of [
      [912, 412],
      [967, 467],
      [940, 440],
    ] as const) {
      expect(near(pixel(out, x, y), RED)).toBe(true);
    }
    // Outside the logo's box, or in its transparent half: the image as it was.
    for (const [x, y] of [
      [971, 440],
      [940, 471],
      [940, 407],
      [880, 440],
      [845, 440],
      [0, 0],
      [999, 499],
    ] as const) {
      expect(pixel(out, x, y)).toEqual(BLUE);
    }
  });

  it('blends a half-transparent logo with the image under it', async () => {
    const out = await compositeLogo(solid(1000, 500), await logoPng(200, 100, 128));
    const blended = BLUE.map((b, i) => Math.round((RED[i]! * 128 + b * 127) / 255));
    expect(near(pixel(out, 940, 440), blended, 4)).toBe(true);
  });

  it('keeps a tall logo inside the image, shrinking it with its aspect', async () => {
    // 400×100 image: 12 % is 48 px wide; a 1:4 logo would be 192 px tall, so it is held to 100 - 2×12 = 76.
    const out = await compositeLogo(solid(400, 100), await logoPng(50, 200));
    const red = (x: number, y: number) => near(pixel(out, x, y), RED);
    const columns = Array.from({ length: 400 }, (_, x) => x).filter((x) => red(x, 50));
    const rows = Array.from({ length: 100 }, (_, y) => y).filter((y) => red(columns.at(-1)!, y));
    expect(rows[0]).toBe(12);
    expect(rows.at(-1)).toBe(87);
    expect(columns.at(-1)).toBe(400 - 12 - 1);
  });

  it('works on encoded results and keeps their alpha channel', async () => {
    const base = solid(200, 100, BLUE, 4);
    const encoded = await sharp(base.image, { raw: base.raw! }).png().toBuffer();
    const out = await compositeLogo({ image: encoded, seed: 1 }, await logoPng(40, 20));
    expect(out.raw).toEqual({ width: 200, height: 100, channels: 4 });
    // 24 px wide, 12 tall, 6 px margin: the opaque half is x 182–193, y 82–93.
    expect(near(pixel(out, 190, 90), RED)).toBe(true);
    expect(pixel(out, 100, 50)).toEqual(BLUE);
  });

  it.each([
    // The logo's opaque half: x 90–149 on the left, 910–969 on the right; y 30–89 at the top.
    ['top_left', 120, 60],
    ['top_right', 940, 60],
    ['bottom_left', 120, 440],
  ] as const)('places it %s when asked (branding)', async (corner, x, y) => {
    const out = await compositeLogo(solid(1000, 500), await logoPng(200, 100), corner);
    expect(near(pixel(out, x, y), RED)).toBe(true);
    expect(pixel(out, 940, 440)).toEqual(BLUE);
  });

  it('gives the same pixels for the same inputs', async () => {
    const logo = await logoPng(64, 64, 200);
    const [a, b] = await Promise.all([
      compositeLogo(solid(300, 300), logo),
      compositeLogo(solid(300, 300), logo),
    ]);
    expect(a.image.equals(b.image)).toBe(true);
  });
});
