import { type Campaign } from '@castforge/client';
import { describe, expect, it } from 'vitest';
import { profile } from '../fixtures';
import { estimateCampaign, formatDuration, measuredPace, unitsFor } from './estimate';

const finished = (overrides: Partial<Campaign> = {}): Campaign => ({
  campaign_id: 'camp_0000000000000001',
  name: 'Last week',
  status: 'completed',
  job_count: 10,
  profile_count: 5,
  scene_count: 2,
  variants: 1,
  priority: 0,
  counts: { queued: 0, pending: 0, processing: 0, completed: 10, failed: 0, cancelled: 0 },
  progress: 100,
  eta_seconds: null,
  metadata: null,
  created_at: '2026-11-24T10:00:00Z',
  finished_at: '2026-11-24T10:00:20Z',
  ...overrides,
});
const scene = { name: 's', prompt: 'p', steps: '' };

describe('the campaign estimate', () => {
  it('counts profiles × scenes × variants', () => {
    const e = estimateCampaign({
      profiles: [profile(), profile()],
      scenes: [scene, scene],
      variants: 2,
      pace: null,
    });
    expect(e.jobs).toBe(8);
  });

  it('uses the pace of the last finished campaign when there is one', () => {
    const pace = measuredPace([finished({ status: 'running', finished_at: null }), finished()]);
    expect(pace).toEqual({ secondsPerJob: 2, from: 'Last week' });
    expect(estimateCampaign({ profiles: [profile()], scenes: [scene], variants: 4, pace })).toMatchObject({
      jobs: 4,
      seconds: 8,
    });
  });

  it('falls back to the API’s cold rate, steps × megapixels, resolved as the profile pins them', () => {
    const pinned = profile({
      adapter_snapshot: {
        prompt_template_mode: 'suffix',
        seed_strategy: 'random',
        steps: 10,
        width: 512,
        height: 512,
      },
    });
    expect(unitsFor(pinned, { ...scene, steps: '50' })).toBeCloseTo(10 * 0.262144);
    expect(unitsFor(profile(), { ...scene, steps: '5' })).toBeCloseTo(5 * 1.048576);
    const e = estimateCampaign({
      profiles: [profile()],
      scenes: [{ ...scene, steps: '5' }],
      variants: 2,
      pace: null,
    });
    expect(e.seconds).toBe(10);
    expect(e.basis).toMatch(/^rough/);
  });

  it('formats durations for people', () => {
    expect([formatDuration(42), formatDuration(125), formatDuration(7260), formatDuration(null)]).toEqual([
      '42 s',
      '2 min 05 s',
      '2 h 01 min',
      '—',
    ]);
  });
});
