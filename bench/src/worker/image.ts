import sharp from 'sharp';

/** The result both sides store for every job: a `size`×`size` PNG of a plain colour, made once per run. */
export function fixedImage(size: number): Promise<Buffer> {
  return sharp({ create: { width: size, height: size, channels: 3, background: { r: 200, g: 90, b: 40 } } })
    .png()
    .toBuffer();
}
