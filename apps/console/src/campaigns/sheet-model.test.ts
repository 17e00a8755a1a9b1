import { describe, expect, it } from 'vitest';
import { campaignJob } from '../fixtures';
import { buildSheet, safeName, zipPath } from './sheet-model';

describe('buildSheet', () => {
  it('lays jobs out identities down, scenes across, variants stacked in order, whatever order they arrive in', () => {
    const jobs = [
      campaignJob({ job_id: 'job_b', profile_index: 1, profile_name: 'B', scene_index: 0, variant: 1 }),
      campaignJob({
        job_id: 'job_a',
        profile_index: 0,
        profile_name: 'A',
        scene_index: 1,
        scene_name: 'Studio',
      }),
      campaignJob({ job_id: 'job_c', profile_index: 1, profile_name: 'B', scene_index: 0, variant: 0 }),
    ];
    const sheet = buildSheet(jobs);
    expect(sheet.identities.map((i) => i.name)).toEqual(['A', 'B']);
    expect(sheet.scenes.map((s) => s.name)).toEqual(['Rooftop', 'Studio']);
    expect(sheet.cell(1, 0).map((j) => j.job_id)).toEqual(['job_c', 'job_b']);
    expect(sheet.cell(0, 0)).toEqual([]);
  });
});

describe('zip paths', () => {
  it('are <profile>/<scene>/<variant>.<ext>, with names that cannot climb out or hide', () => {
    expect(zipPath(campaignJob({ variant: 1, result_mime_type: 'image/webp' }))).toBe(
      'Mara Okafor/Rooftop/2.webp',
    );
    expect(zipPath(campaignJob({ profile_name: '../../etc', scene_name: 'a/b' }))).toBe('etc/a-b/1.img');
    expect(safeName('')).toBe('unnamed');
  });
});
