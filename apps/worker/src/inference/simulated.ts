import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { OperationName } from '@castforge/schemas';
import { type InferenceBackend, type InferenceRequest, abortError } from './inference-backend';
import { type Canvas, drawCaption } from './simulated-font';
import { renders } from './simulated-operations';

/** How many words of the identity a caption shows. */
const LABEL_WORDS = 6;

/**
 * Everything a simulated image depends on, hashed: the same request (images included) always renders the
 * same bytes, and any change to it a different picture.
 */
function digestOf(request: InferenceRequest): Buffer {
  const hash = createHash('sha256').update(
    JSON.stringify([
      request.operation,
      request.prompt,
      request.negativePrompt ?? null,
      request.seed,
      request.steps,
      request.guidance,
      request.width,
      request.height,
      request.label ?? null,
      Object.entries(request.options).sort(([a], [b]) => a.localeCompare(b)),
    ]),
  );
  for (const field of Object.keys(request.images).sort())
    hash.update(field).update(request.images[field]!.data);
  return hash.digest();
}

/** The caption of a contact sheet: which operation, which seed, whose identity. */
export function captionOf(request: InferenceRequest): string[] {
  const identity = (request.label?.trim() || request.prompt.trim()).split(/\s+/).filter(Boolean);
  const words = identity.slice(0, LABEL_WORDS).join(' ') + (identity.length > LABEL_WORDS ? ' ...' : '');
  return [request.operation, `seed ${request.seed}`, ...(words ? [words] : [])];
}

async function render(request: InferenceRequest): Promise<Canvas> {
  const canvas = await renders[request.operation](request, digestOf(request));
  drawCaption(canvas, captionOf(request));
  return canvas;
}

/**
 * A deterministic stand-in for a GPU that runs every operation (SPEC §3b): `generate` renders a smooth field
 * of colours seeded from the request, and the other operations visibly use their input images (see
 * simulated-operations.ts). Each image carries a caption (operation, seed, the identity's first words) in a
 * built-in bitmap font, so a contact sheet of results is readable. It takes `stepMs` per step (or `imageMs`
 * per image), reports progress per step, honours aborts, and returns raw pixels.
 */
export function createSimulatedBackend(options: { stepMs: number; imageMs?: number }): InferenceBackend {
  return {
    name: 'simulated',
    defaults: { steps: 20, guidance: 7 },
    operations: new Set(OperationName.options),
    async run(_endpoint, request) {
      if (request.signal.aborted) throw abortError(request.signal);
      const pixels = render(request);
      const stepMs = options.imageMs !== undefined ? options.imageMs / request.steps : options.stepMs;
      // Steps are timed against absolute deadlines so timer overhead does not add up over many steps.
      const started = performance.now();
      try {
        for (let step = 1; step <= request.steps; step++) {
          const wait = started + step * stepMs - performance.now();
          if (wait > 0) await sleep(wait, undefined, { signal: request.signal });
          request.onProgress(step / request.steps);
        }
      } catch {
        pixels.catch(() => undefined);
        throw abortError(request.signal);
      }
      const canvas = await pixels;
      return {
        image: canvas.data,
        raw: { width: canvas.width, height: canvas.height, channels: canvas.channels },
        seed: request.seed,
      };
    },
  };
}
