import sharp from 'sharp';
import { type InputImage } from './inference-backend';
import { type Canvas } from './simulated-font';

/** Pixel helpers of the simulated backend's operations, on raw canvases. */

/** No output side passes this (the largest input side, SPEC §3b); upscales keep their aspect within it. */
const MAX_SIDE = 4096;
const GRID = 8;

export const raw = (canvas: Canvas) => ({
  raw: { width: canvas.width, height: canvas.height, channels: canvas.channels },
});
export const toCanvas = ({
  data,
  info,
}: {
  data: Buffer;
  info: { width: number; height: number; channels: number };
}): Canvas => ({
  data,
  width: info.width,
  height: info.height,
  channels: info.channels === 4 ? 4 : 3,
});

/** A smooth field of colours seeded from the digest: the "generated" picture. */
export async function field(digest: Buffer, width: number, height: number, tint?: number[]): Promise<Canvas> {
  const grid = Buffer.alloc(GRID * GRID * 3);
  let state = digest.readUInt32LE(0) ^ digest.readUInt32LE(4);
  for (let i = 0; i < grid.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const value = (state >>> 24) ^ digest[i % digest.length]!;
    grid[i] = tint ? Math.round(value * 0.35 + tint[i % 3]! * 0.65) : value;
  }
  return toCanvas(
    await sharp(grid, { raw: { width: GRID, height: GRID, channels: 3 } })
      .resize(width, height, { kernel: 'cubic', fit: 'fill' })
      .raw()
      .toBuffer({ resolveWithObject: true }),
  );
}

/** An input image scaled to cover width×height (centre crop), as raw RGB. */
export async function cover(image: InputImage, width: number, height: number): Promise<Canvas> {
  return toCanvas(
    await sharp(image.data)
      .resize(width, height, { fit: 'cover', position: 'centre' })
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true }),
  );
}

/** RGBA pixels of `canvas` inside an ellipse filling it, with a soft edge `feather` (0–1) wide. */
export function ellipse(canvas: Canvas, feather: number, opacity = 1): Canvas {
  const { width, height } = canvas;
  const out = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const dx = (x + 0.5 - width / 2) / (width / 2);
      const dy = (y + 0.5 - height / 2) / (height / 2);
      const d = Math.sqrt(dx * dx + dy * dy);
      const alpha = d >= 1 ? 0 : d <= 1 - feather ? 1 : (1 - d) / feather;
      const from = (y * width + x) * canvas.channels;
      const to = (y * width + x) * 4;
      out[to] = canvas.data[from]!;
      out[to + 1] = canvas.data[from + 1]!;
      out[to + 2] = canvas.data[from + 2]!;
      out[to + 3] = Math.round(alpha * opacity * 255);
    }
  }
  return { data: out, width, height, channels: 4 };
}

/** RGBA pixels of `canvas` at a uniform `opacity` (0–1). */
export function translucent(canvas: Canvas, opacity: number): Canvas {
  const { width, height } = canvas;
  const out = Buffer.alloc(width * height * 4, Math.round(opacity * 255));
  for (let i = 0; i < width * height; i++)
    canvas.data.copy(out, i * 4, i * canvas.channels, i * canvas.channels + 3);
  return { data: out, width, height, channels: 4 };
}

/** Overlays RGBA canvases onto `base` at their positions; the result keeps `base`'s channels. */
export async function over(
  base: Canvas,
  layers: { canvas: Canvas; left: number; top: number }[],
): Promise<Canvas> {
  const composed = sharp(base.data, raw(base)).composite(
    layers.map(({ canvas, left, top }) => ({ input: canvas.data, ...raw(canvas), left, top })),
  );
  return toCanvas(
    await (base.channels === 4 ? composed.ensureAlpha() : composed.removeAlpha())
      .raw()
      .toBuffer({ resolveWithObject: true }),
  );
}

/** width×height scaled down, aspect kept, so neither side passes MAX_SIDE. */
export function capped(width: number, height: number): { width: number; height: number } {
  const factor = Math.min(1, MAX_SIDE / Math.max(width, height));
  return { width: Math.max(8, Math.round(width * factor)), height: Math.max(8, Math.round(height * factor)) };
}
