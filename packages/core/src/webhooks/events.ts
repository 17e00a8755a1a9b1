import { type JobEvent } from '@castforge/schemas';
import { type JobRecord } from '../jobs/job-store';

/** The SPEC §6 event of a job that ended, built once when it ends and delivered as is on every attempt. */
export function jobEvent(
  record: JobRecord,
  resultUrl: (key: string, expiresAtMs: number) => string,
): JobEvent {
  const status = record.status as JobEvent['status'];
  const completed = status === 'completed' && record.resultKey !== null && record.resultExpiresAt !== null;
  return {
    event: `job.${status}`,
    job_id: record.jobId,
    tenant_id: record.tenantId,
    campaign_id: record.campaignId,
    status,
    result_url: completed ? resultUrl(record.resultKey!, record.resultExpiresAt!) : null,
    result_mime_type: completed ? record.resultMimeType : null,
    result_size_bytes: completed ? record.resultSizeBytes : null,
    timestamp: Math.floor((record.finishedAt ?? Date.now()) / 1000),
    error: status === 'completed' ? null : record.error,
    failure_reason_code: status === 'completed' ? null : record.failureReasonCode,
    retryable: status === 'completed' ? null : record.retryable,
    metadata: record.metadata,
  };
}
