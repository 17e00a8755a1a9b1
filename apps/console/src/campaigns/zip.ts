import { type CampaignJob, type CastforgeClient } from '@castforge/client';
import { zipSync } from 'fflate';
import { zipPath } from './sheet-model';

/**
 * Fetches every completed job's image through its signed link (a few at a time) and packs them into one
 * zip, laid out <profile>/<scene>/<variant>.<ext>. Images are stored, not deflated: they are compressed already.
 */
export async function zipResults(
  client: CastforgeClient,
  jobs: readonly CampaignJob[],
  onProgress: (done: number, total: number) => void = () => undefined,
): Promise<{ zip: Uint8Array; files: number; failed: string[] }> {
  const todo = jobs.filter((j) => j.status === 'completed' && j.result_url);
  const files: Record<string, Uint8Array> = {};
  const failed: string[] = [];
  let done = 0;
  const queue = [...todo];
  const worker = async () => {
    for (let job = queue.shift(); job; job = queue.shift()) {
      try {
        files[zipPath(job)] = await client.download(job.result_url!);
      } catch {
        failed.push(job.job_id);
      }
      onProgress(++done, todo.length);
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return { zip: zipSync(files, { level: 0 }), files: Object.keys(files).length, failed };
}

/** Hands bytes to the browser as a download. */
export function saveFile(bytes: Uint8Array, name: string, type = 'application/zip') {
  // fflate hands back a Uint8Array over a plain ArrayBuffer; the DOM typings want that said.
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
