import { type Campaign, type Profile } from '@castforge/client';

export interface SceneDraft {
  name: string;
  prompt: string;
  /** Steps for profiles that pin none (text as typed). */
  steps: string;
}

/** The API's own assumption before it has measured anything: one second per step per megapixel. */
const COLD_SECONDS_PER_UNIT = 1;
const DEFAULT_STEPS = 20;
const DEFAULT_SIDE = 1024;

/** A job's cost in steps × megapixels, resolved as the API does: the profile pins what it sets. */
export function unitsFor(profile: Profile, scene: SceneDraft): number {
  const s = profile.adapter_snapshot;
  const sceneSteps = Number(scene.steps);
  const steps = s.steps ?? (scene.steps.trim() && Number.isFinite(sceneSteps) ? sceneSteps : DEFAULT_STEPS);
  return Math.max(0.01, (steps * (s.width ?? DEFAULT_SIDE) * (s.height ?? DEFAULT_SIDE)) / 1e6);
}

/**
 * The pace the tenant's GPUs kept on its most recent finished campaign: wall-clock seconds per job from
 * creation to the end, which already folds in how many GPU slots served it. Null until one has finished.
 */
export function measuredPace(campaigns: readonly Campaign[]): { secondsPerJob: number; from: string } | null {
  const done = campaigns.find((c) => c.finished_at && c.status !== 'cancelled' && c.counts.completed > 0);
  if (!done?.finished_at) return null;
  const wall = (Date.parse(done.finished_at) - Date.parse(done.created_at)) / 1000;
  const ran = done.counts.completed + done.counts.failed;
  return { secondsPerJob: Math.max(0.05, wall / ran), from: done.name };
}

export interface Estimate {
  jobs: number;
  seconds: number;
  basis: string;
}

/** Jobs = profiles × scenes × variants, and how long they should take, saying what the figure rests on. */
export function estimateCampaign(input: {
  profiles: readonly Profile[];
  scenes: readonly SceneDraft[];
  variants: number;
  pace: ReturnType<typeof measuredPace>;
}): Estimate {
  const variants = Number.isFinite(input.variants) ? Math.max(0, Math.floor(input.variants)) : 0;
  const jobs = input.profiles.length * input.scenes.length * variants;
  if (input.pace) {
    return {
      jobs,
      seconds: Math.round(jobs * input.pace.secondsPerJob),
      basis: `at the pace of “${input.pace.from}”, ${input.pace.secondsPerJob.toFixed(1)} s per image`,
    };
  }
  let units = 0;
  for (const p of input.profiles) for (const s of input.scenes) units += unitsFor(p, s) * variants;
  return {
    jobs,
    seconds: Math.round(units * COLD_SECONDS_PER_UNIT),
    basis: 'rough: 1 s per step per megapixel on one GPU, until a campaign of yours has finished',
  };
}

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  if (seconds < 60) return `${Math.max(0, Math.round(seconds))} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${String(Math.round(seconds % 60)).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}
