import { type Logger } from '@castforge/core';
import { type BackendName } from '@castforge/schemas';
import { type WorkerConfig, a1111ControlNetOf } from '../config';
import { createA1111Backend } from './a1111';
import { createComfyuiBackend } from './comfyui/comfyui-backend';
import { type InferenceBackend } from './inference-backend';
import { createSimulatedBackend } from './simulated';

export type BackendFactory = (config: WorkerConfig, logger: Logger) => InferenceBackend;

/** One row per INFERENCE_BACKEND name (SPEC §12): a new backend is one file and one row here. */
export const backendFactories = {
  simulated: (config) =>
    createSimulatedBackend({ stepMs: config.SIMULATED_STEP_MS, imageMs: config.SIMULATED_IMAGE_MS }),
  a1111: (config, logger) =>
    createA1111Backend({
      logger,
      controlnet: a1111ControlNetOf(config),
      ...(config.INFERENCE_AUTH && { auth: config.INFERENCE_AUTH }),
    }),
  comfyui: (config, logger) => {
    // Checked by the config schema; repeated here so the type narrows without an assertion.
    if (!config.COMFYUI_WORKFLOWS_DIR)
      throw new Error('COMFYUI_WORKFLOWS_DIR is required for the comfyui backend');
    return createComfyuiBackend({
      workflowsDir: config.COMFYUI_WORKFLOWS_DIR,
      headers: gpuHeaders(config),
      logger: logger.child({ backend: 'comfyui' }),
    });
  },
} satisfies Record<BackendName, BackendFactory>;

/**
 * Builds the configured backend. Throws when it cannot be built (a ComfyUI template that does not parse);
 * its `init(endpoints)`, when it has one, must then run before the first job.
 */
export function createBackend(config: WorkerConfig, logger: Logger): InferenceBackend {
  return backendFactories[config.INFERENCE_BACKEND](config, logger);
}

/**
 * Headers for a reverse proxy in front of the GPU servers: INFERENCE_AUTH as HTTP Basic, and
 * INFERENCE_AUTH_HEADER as given (it wins when both name the same header).
 */
function gpuHeaders(config: WorkerConfig): Record<string, string> {
  const headers: Record<string, string> = {};
  if (config.INFERENCE_AUTH) {
    const { username, password } = config.INFERENCE_AUTH;
    headers.Authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }
  if (config.INFERENCE_AUTH_HEADER) {
    const { name, value } = config.INFERENCE_AUTH_HEADER;
    for (const key of Object.keys(headers)) if (key.toLowerCase() === name.toLowerCase()) delete headers[key];
    headers[name] = value;
  }
  return headers;
}
