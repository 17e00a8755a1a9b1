import {
  type Adapter,
  type BackendName,
  type FailureReasonCode,
  type OperationName,
  type OutputFormat,
  retryableByFailureCode,
} from '@castforge/schemas';

/** One GPU endpoint the pool drives (one URL of INFERENCE_URLS), with its own in-flight limit. */
export interface Endpoint {
  /** Position in INFERENCE_URLS; stable for the life of the process. */
  index: number;
  /** Base URL of the backend, e.g. http://gpu-1:7860. The simulated backend uses `simulated://<n>`. */
  url: string;
}

/**
 * An input image of a job (SPEC §3b), fetched by the worker when the job starts and held only in memory for
 * that job: the bytes as fetched (PNG, JPEG or WebP, already decoded once to prove they are an image).
 */
export interface InputImage {
  data: Buffer;
  mimeType: 'image/png' | 'image/jpeg' | 'image/webp';
  width: number;
  height: number;
}

/** Everything a backend needs for one job, already resolved (profile applied, prompt joined, seed picked). */
export interface InferenceRequest {
  jobId: string;
  /** What to run; a backend is only given operations it declares. */
  operation: OperationName;
  prompt: string;
  negativePrompt?: string;
  steps: number;
  guidance: number;
  /** 0..4294967295: the seed the job asks for (already picked, never -1). */
  seed: number;
  width: number;
  height: number;
  /** The format the caller asked for; a backend may return another encoding, the worker converts it. */
  outputFormat: OutputFormat;
  /** The profile's adapter config: checkpoint, LoRAs, identity adapter and free-form `extra`. */
  adapter?: Adapter;
  /**
   * The job's input images by request field name (`input_image`, `source`, `target`, `input_face`,
   * `person_image`, `clothing_image`, …); empty for `generate`.
   */
  images: Readonly<Record<string, InputImage>>;
  /** Operation-specific request fields that are not generation fields (faceswap `upscale`, tryon `gender`, …). */
  options: Readonly<Record<string, unknown>>;
  /** A short human label of the identity (the profile's name), for backends that draw it (simulated). */
  label?: string;
  /** Aborted on cancel or when the job's time budget runs out; `signal.reason` says which. */
  signal: AbortSignal;
  /** Progress in [0, 1], called as the backend reports steps. */
  onProgress(fraction: number): void;
}

export interface InferenceResult {
  /** The image: encoded bytes (PNG, JPEG or WebP), or raw pixels when `raw` is set. */
  image: Buffer;
  raw?: { width: number; height: number; channels: 3 | 4 };
  /** The seed the backend reports having used (A1111's `info.seed`). */
  seed: number;
}

export interface BackendDefaults {
  steps: number;
  guidance: number;
}

/**
 * The seam between the worker and a GPU (SPEC §12): one small interface, one implementation per protocol,
 * one row in `registry.ts`. A backend declares the operations it runs; its capacity is its endpoints
 * (INFERENCE_URLS) × INFERENCE_CONCURRENCY jobs in flight each.
 */
export interface InferenceBackend {
  /** A registry name (BackendName) for real backends; test fakes name themselves. */
  readonly name: BackendName | (string & {});
  /** Used when neither the request nor the profile sets steps or guidance (SPEC §3). */
  readonly defaults: BackendDefaults;
  /** The operations this backend runs with its current configuration. */
  readonly operations: ReadonlySet<OperationName>;
  /**
   * Checks the endpoints before the worker takes any job (e.g. ComfyUI templates against `/object_info`);
   * rejects with one message naming what is wrong, which stops the worker at start.
   */
  init?(endpoints: readonly Endpoint[]): Promise<void>;
  run(endpoint: Endpoint, request: InferenceRequest): Promise<InferenceResult>;
  close?(): Promise<void>;
}

/** Why an abort happened, set as `AbortSignal.reason` by the worker. */
export class JobCancelledError extends Error {
  override name = 'JobCancelledError';
}
export class JobTimeoutError extends Error {
  override name = 'JobTimeoutError';
}

/**
 * A failure a backend classified (SPEC §8): 4xx from the backend → INPUT_INVALID (not retryable), 5xx →
 * MODEL_ERROR, unreachable → MODEL_UNAVAILABLE, aborted by the time budget → TIMEOUT, by cancel → CANCELLED.
 */
export class InferenceError extends Error {
  override name = 'InferenceError';
  readonly retryable: boolean;
  constructor(
    readonly code: FailureReasonCode,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
    this.retryable = retryableByFailureCode[code];
  }
}

/** Maps an abort to the error the job should end with, from the reason the worker gave the signal. */
export function abortError(signal: AbortSignal): InferenceError {
  if (signal.reason instanceof JobTimeoutError) return new InferenceError('TIMEOUT', signal.reason.message);
  return new InferenceError('CANCELLED', 'the job was cancelled');
}
