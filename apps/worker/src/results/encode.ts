import { type OutputFormat } from '@castforge/schemas';
import sharp from 'sharp';
import { type InferenceResult } from '../inference/inference-backend';

/**
 * Encodes a backend's image in the requested format. Runs after the GPU slot is released, in libuv's
 * thread pool, so it never holds a GPU or blocks the event loop. Bytes already in the requested format
 * pass through untouched; the same input always encodes to the same bytes.
 */
export async function encodeImage(
  result: InferenceResult,
  format: OutputFormat,
): Promise<{ data: Buffer; width: number; height: number }> {
  if (!result.raw) {
    const meta = await sharp(result.image).metadata();
    if (meta.format === format) {
      return { data: result.image, width: meta.width ?? 0, height: meta.height ?? 0 };
    }
  }
  const image = result.raw ? sharp(result.image, { raw: result.raw }) : sharp(result.image);
  const encoded =
    format === 'png'
      ? image.png({ compressionLevel: 6 })
      : format === 'jpeg'
        ? image.jpeg({ quality: 90 })
        : image.webp({ quality: 90 });
  const { data, info } = await encoded.toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}
