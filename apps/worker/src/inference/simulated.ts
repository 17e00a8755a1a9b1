import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import { type InferenceBackend, type InferenceRequest, abortError } from './inference-backend';

const GRID = 8;

/**
 * A deterministic stand-in for a GPU: the same (prompt, seed, steps, guidance, size) always gives the same
 * pixels, a different seed a different picture. It renders a smooth field of colours seeded from those
 * inputs, takes `stepMs` per step (or `imageMs` per image), reports progress per step and honours aborts.
 */
export function createSimulatedBackend(options: { stepMs: number; imageMs?: number }): InferenceBackend {
  const render = async (request: InferenceRequest) => {
    const digest = createHash('sha256')
      .update(
        JSON.stringify([
          request.prompt,
          request.seed,
          request.steps,
          request.guidance,
          request.width,
          request.height,
        ]),
      )
      .digest();
    // A small grid of seeded colours, scaled up smoothly to the requested size.
    const grid = Buffer.alloc(GRID * GRID * 3);
    let state = digest.readUInt32LE(0) ^ digest.readUInt32LE(4);
    for (let i = 0; i < grid.length; i++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      grid[i] = (state >>> 24) ^ digest[i % digest.length]!;
    }
    return sharp(grid, { raw: { width: GRID, height: GRID, channels: 3 } })
      .resize(request.width, request.height, { kernel: 'cubic', fit: 'fill' })
      .raw()
      .toBuffer();
  };

  return {
    name: 'simulated',
    defaults: { steps: 20, guidance: 7 },
    operations: new Set(['generate']),
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
      return {
        image: await pixels,
        raw: { width: request.width, height: request.height, channels: 3 },
        seed: request.seed,
      };
    },
  };
}
