import sharp from 'sharp';
import { type InferenceResult, type InputImage } from '../inference/inference-backend';

export type LogoCorner = 'bottom_right' | 'bottom_left' | 'top_right' | 'top_left';

/** SPEC §3 `logo_url`: bottom-right, 12 % of the result's width, 3 % margin. */
export const LOGO_WIDTH_FRACTION = 0.12;
export const LOGO_MARGIN_FRACTION = 0.03;

/**
 * Composites `logo` onto a backend's result (SPEC §3 `logo_url`): scaled to 12 % of the result's width with
 * its aspect kept (and no taller than the result allows), placed in `corner` with a margin of 3 % of the
 * result's width on both sides, over the image through the logo's own alpha. Returns raw pixels with the
 * result's channels, ready for `encodeImage`; the same inputs give the same pixels.
 */
export async function compositeLogo(
  result: InferenceResult,
  logo: InputImage,
  corner: LogoCorner = 'bottom_right',
): Promise<InferenceResult> {
  const base = result.raw ? sharp(result.image, { raw: result.raw }) : sharp(result.image);
  const meta = result.raw
    ? { width: result.raw.width, height: result.raw.height, hasAlpha: result.raw.channels === 4 }
    : await sharp(result.image).metadata();
  const { width, height } = meta;
  const margin = Math.round(width * LOGO_MARGIN_FRACTION);
  const box = {
    width: Math.max(1, Math.round(width * LOGO_WIDTH_FRACTION)),
    height: Math.max(1, height - 2 * margin),
  };
  const { data: overlay, info } = await sharp(logo.data)
    .ensureAlpha()
    .resize({ ...box, fit: 'inside', kernel: 'lanczos3' })
    .png()
    .toBuffer({ resolveWithObject: true });
  const left = corner.endsWith('right') ? width - margin - info.width : margin;
  const top = corner.startsWith('bottom') ? height - margin - info.height : margin;

  const composed = base.composite([{ input: overlay, left: Math.max(0, left), top: Math.max(0, top) }]);
  const { data, info: out } = await (meta.hasAlpha ? composed.ensureAlpha() : composed.removeAlpha())
    .raw()
    .toBuffer({ resolveWithObject: true });
  return {
    image: data,
    raw: { width: out.width, height: out.height, channels: out.channels === 4 ? 4 : 3 },
    seed: result.seed,
  };
}
