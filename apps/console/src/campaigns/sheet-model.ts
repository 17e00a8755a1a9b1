import { type CampaignJob } from '@castforge/client';

export interface Sheet {
  identities: { index: number; name: string; profileId: string | null }[];
  scenes: { index: number; name: string }[];
  /** The jobs of one identity × scene, variants in order. */
  cell: (identity: number, scene: number) => CampaignJob[];
}

/** Lays a campaign's jobs out as the contact sheet: identities down, scenes across, variants stacked. */
export function buildSheet(jobs: readonly CampaignJob[]): Sheet {
  const identities = new Map<number, Sheet['identities'][number]>();
  const scenes = new Map<number, Sheet['scenes'][number]>();
  const cells = new Map<string, CampaignJob[]>();
  for (const job of jobs) {
    if (!identities.has(job.profile_index))
      identities.set(job.profile_index, {
        index: job.profile_index,
        name: job.profile_name,
        profileId: job.profile_id,
      });
    if (!scenes.has(job.scene_index))
      scenes.set(job.scene_index, { index: job.scene_index, name: job.scene_name });
    const key = `${job.profile_index}:${job.scene_index}`;
    cells.set(key, [...(cells.get(key) ?? []), job]);
  }
  for (const list of cells.values()) list.sort((a, b) => a.variant - b.variant);
  return {
    identities: [...identities.values()].sort((a, b) => a.index - b.index),
    scenes: [...scenes.values()].sort((a, b) => a.index - b.index),
    cell: (identity, scene) => cells.get(`${identity}:${scene}`) ?? [],
  };
}

/** A file or folder name from a profile or scene name: no separators, nothing hidden, never empty. */
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

/** Where a job's image goes in the zip: <profile>/<scene>/<variant>.<ext>, as the CLI lays out downloads. */
export const zipPath = (job: CampaignJob): string =>
  `${safeName(job.profile_name || job.profile_id || 'profile')}/${safeName(job.scene_name)}/${job.variant + 1}.${
    EXTENSIONS[job.result_mime_type ?? ''] ?? 'img'
  }`;
