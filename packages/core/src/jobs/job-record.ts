import {
  type FailureReasonCode,
  FailureReasonCode as FailureReasonCodeSchema,
  JobStatusName,
  OperationName,
} from '@castforge/schemas';

/** A status record as stored, with numbers parsed. Times are epoch milliseconds. */
export interface JobRecord {
  jobId: string;
  tenantId: string;
  operation: OperationName;
  status: JobStatusName;
  progress: number;
  profileId: string | null;
  profileVersion: number | null;
  campaignId: string | null;
  campaignIndex: number | null;
  seed: number | null;
  prompt: string | null;
  promptHash: string | null;
  warnings: string[] | null;
  queuedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  inferenceMs: number | null;
  attempts: number;
  resultKey: string | null;
  resultMimeType: string | null;
  resultSizeBytes: number | null;
  resultExpiresAt: number | null;
  error: string | null;
  failureReasonCode: FailureReasonCode | null;
  retryable: boolean | null;
  metadata: Record<string, unknown> | null;
  lane: string | null;
  /** Cost units (steps × megapixels) the job was estimated at, for estimates while it waits. */
  units: number | null;
  /** Jobs ahead of this one while it is queued. */
  ahead: number | null;
  /** A campaign job that ended and whose record has since expired: only its status is known. */
  expired: boolean;
}

const num = (value: string | undefined) => (value === undefined || value === '' ? null : Number(value));

function parseJson<T>(value: string | undefined): T | null {
  if (!value) return null;
  try {
    return JSON.parse(value) as T;
  } catch {
    return null;
  }
}

export function parseRecord(jobId: string, fields: Record<string, string>): JobRecord {
  const code = FailureReasonCodeSchema.safeParse(fields.failure_reason_code);
  const operation = OperationName.safeParse(fields.op);
  return {
    jobId,
    tenantId: fields.tenant ?? '',
    operation: operation.success ? operation.data : 'generate',
    status: JobStatusName.parse(fields.status),
    progress: num(fields.progress) ?? 0,
    profileId: fields.profile_id || null,
    profileVersion: num(fields.profile_version),
    campaignId: fields.campaign_id || null,
    campaignIndex: num(fields.campaign_index),
    seed: num(fields.seed),
    prompt: fields.prompt ?? null,
    promptHash: fields.prompt_hash || null,
    warnings: parseJson<string[]>(fields.warnings),
    queuedAt: num(fields.queued_at) ?? 0,
    startedAt: num(fields.started_at),
    finishedAt: num(fields.finished_at),
    inferenceMs: num(fields.inference_ms),
    attempts: num(fields.attempts) ?? 0,
    resultKey: fields.result_key || null,
    resultMimeType: fields.result_mime_type || null,
    resultSizeBytes: num(fields.result_size_bytes),
    resultExpiresAt: num(fields.result_expires_at),
    error: fields.error || null,
    failureReasonCode: code.success ? code.data : null,
    retryable: fields.retryable === undefined || fields.retryable === '' ? null : fields.retryable === '1',
    metadata: parseJson<Record<string, unknown>>(fields.metadata),
    lane: fields.lane || null,
    units: num(fields.units),
    ahead: num(fields.__ahead),
    expired: fields.__expired === '1',
  };
}

/** A script's field/value list reply (or nil for unknown and foreign ids) as a record. */
export function recordFromReply(jobId: string, reply: unknown): JobRecord | null {
  if (!reply) return null;
  const list = reply as string[];
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < list.length; i += 2) fields[list[i]!] = list[i + 1]!;
  return parseRecord(jobId, fields);
}

/** Field/value pairs for a script, leaving out what is unset. */
export function toPairs(fields: Record<string, string | number | boolean | null | undefined>): string[] {
  const pairs: string[] = [];
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined || value === null) continue;
    pairs.push(name, typeof value === 'boolean' ? (value ? '1' : '0') : String(value));
  }
  return pairs;
}
