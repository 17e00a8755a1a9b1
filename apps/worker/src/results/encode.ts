import { type OutputFormat } from '@castforge/schemas';
import sharp from 'sharp';
import { type InferenceResult } from '../inference/inference-backend';

/**
 * Encodes a backend's image in the requested format. Runs after the GPU slot is released, in libuv's
 * thread pool, so it never holds a GPU or blocks the event loop. Bytes already in the requested format
 * pass through untouched; the same input always encodes to the same bytes.
 */
export async function encodeImage(result: InferenceResult, format: OutputFormat): Promise<{ data: Buffer }> {
  // Bytes already in the requested format pass through untouched: told by their signature, which costs no
  // decoder call (what a fast backend returns is usually already the format the job asked for).
  if (!result.raw && formatOf(result.image) === format) {
    return { data: result.image };
  }
  const image = result.raw ? sharp(result.image, { raw: result.raw }) : sharp(result.image);
  const encoded =
    format === 'png'
      ? image.png({ compressionLevel: 6 })
      : format === 'jpeg'
        ? image.jpeg({ quality: 90 })
        : image.webp({ quality: 90 });
  return { data: await encoded.toBuffer() };
}

/** The format of encoded image bytes, from their signature; null for anything else. */
export function formatOf(bytes: Buffer): OutputFormat | null {
  if (bytes.length >= 8 && bytes.readUInt32BE(0) === 0x89504e47 && bytes.readUInt32BE(4) === 0x0d0a1a0a)
    return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (
    bytes.length >= 12 &&
    bytes.toString('latin1', 0, 4) === 'RIFF' &&
    bytes.toString('latin1', 8, 12) === 'WEBP'
  )
    return 'webp';
  return null;
}
