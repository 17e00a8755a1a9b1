import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { type InferenceRequest, InferenceError } from '../../apps/worker/src/inference/inference-backend';

/** Shared by the ComfyUI tests: the shipped examples, a scratch templates folder, requests and images. */
export const EXAMPLES_DIR = resolve(__dirname, '../../examples/comfyui/workflows');

/** A folder holding the named shipped examples plus any extra files; removed by the returned cleanup. */
export function templatesDir(shipped: string[], extra: Record<string, unknown> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'comfy-templates-'));
  for (const file of shipped) copyFileSync(join(EXAMPLES_DIR, file), join(dir, file));
  for (const [file, content] of Object.entries(extra))
    writeFileSync(join(dir, file), typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function pngOf(
  width: number,
  height: number,
  colour = { r: 200, g: 120, b: 90 },
): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: colour } })
    .png()
    .toBuffer();
}

export function makeRequest(overrides: Partial<InferenceRequest> = {}): InferenceRequest {
  return {
    jobId: `job_${randomBytes(8).toString('hex')}`,
    operation: 'generate',
    images: {},
    options: {},
    prompt: 'portrait of a lighthouse keeper, oil painting',
    negativePrompt: 'blurry',
    steps: 6,
    guidance: 6.5,
    seed: 1234,
    width: 64,
    height: 96,
    outputFormat: 'png',
    signal: new AbortController().signal,
    onProgress: () => undefined,
    ...overrides,
  };
}

/** Resolves to the InferenceError a run failed with, or fails the test if it succeeded. */
export async function failure(promise: Promise<unknown>): Promise<InferenceError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof InferenceError)) throw new Error(`expected an InferenceError, got ${String(err)}`);
  return err;
}
