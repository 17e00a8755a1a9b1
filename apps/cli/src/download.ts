import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type CampaignJob, type CastforgeClient, campaignJobs } from '@castforge/client';

/** A folder or file name from a profile or scene name: no path separators, nothing hidden, not empty. */
export function safeName(name: string): string {
  const cleaned = [...name.normalize('NFKC')]
    .map((ch) => (ch.charCodeAt(0) < 32 ? '-' : ch))
    .join('')
    .replace(/[\\/:*?"<>|]+/g, '-')
    .replace(/^[.\s-]+|[.\s]+$/g, '')
    .slice(0, 100);
  return cleaned || 'unnamed';
}

const EXTENSIONS: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp' };

/** Where a job's image goes: <out>/<profile>/<scene>/<variant>.<ext>. */
export function resultPath(out: string, job: CampaignJob): string {
  const ext = EXTENSIONS[job.result_mime_type ?? ''] ?? 'img';
  return path.join(
    out,
    safeName(job.profile_name || job.profile_id || 'profile'),
    safeName(job.scene_name),
    `${job.variant + 1}.${ext}`,
  );
}

const exists = async (file: string, size: number | null) => {
  try {
    const s = await stat(file);
    return size === null || s.size === size;
  } catch {
    return false;
  }
};

export interface DownloadReport {
  downloaded: number;
  skipped: number;
  failed: { jobId: string; reason: string }[];
}

/**
 * Downloads every completed job of a campaign. Files already there with the right size are skipped and
 * each file is written under a temporary name then renamed, so an interrupted download resumes where it
 * stopped and never leaves half a file behind.
 */
export async function downloadCampaign(
  client: CastforgeClient,
  campaignId: string,
  out: string,
  options: { concurrency?: number; onFile?: (file: string) => void } = {},
): Promise<DownloadReport> {
  const report: DownloadReport = { downloaded: 0, skipped: 0, failed: [] };
  const pending: CampaignJob[] = [];
  for await (const job of campaignJobs(client, campaignId, { status: 'completed' })) pending.push(job);

  const worker = async () => {
    for (let job = pending.shift(); job; job = pending.shift()) {
      const file = resultPath(out, job);
      if (await exists(file, job.result_size_bytes)) {
        report.skipped += 1;
        continue;
      }
      try {
        if (!job.result_url) throw new Error('no result link');
        const bytes = Buffer.from(await client.download(job.result_url));
        await mkdir(path.dirname(file), { recursive: true });
        const temp = `${file}.part`;
        await writeFile(temp, bytes);
        await rename(temp, file);
        report.downloaded += 1;
        options.onFile?.(file);
      } catch (err) {
        report.failed.push({ jobId: job.job_id, reason: (err as Error).message });
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 4 }, worker));
  return report;
}
