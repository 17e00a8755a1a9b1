import path from 'node:path';
import { type Campaign, type CampaignJob } from '@castforge/client';
import { resultPath, safeName } from './download';
import { rosterProfiles, sceneFile } from './files';
import { progressLine } from './progress';

describe('safeName', () => {
  it.each([
    ['Caucasian Woman', 'Caucasian Woman'],
    ['a/b\\c', 'a-b-c'],
    ['../../etc', 'etc'],
    ['  .hidden', 'hidden'],
    ['tab\there', 'tab-here'],
    ['', 'unnamed'],
    ['///', 'unnamed'],
  ])('turns %j into the folder name %j', (name, folder) => {
    expect(safeName(name)).toBe(folder);
  });

  it('never returns a name longer than 100 characters', () => {
    expect(safeName('x'.repeat(500))).toHaveLength(100);
  });
});

describe('resultPath', () => {
  const job = (overrides: Partial<CampaignJob>) =>
    ({
      profile_name: 'Black Man',
      profile_id: 'prof_0123456789abcdef',
      scene_name: 'rooftop',
      variant: 0,
      result_mime_type: 'image/png',
      ...overrides,
    }) as CampaignJob;

  it('puts a job under <profile>/<scene>/<variant + 1>.<ext>', () => {
    expect(resultPath('/out', job({}))).toBe(path.join('/out', 'Black Man', 'rooftop', '1.png'));
    expect(resultPath('/out', job({ variant: 3, result_mime_type: 'image/webp' }))).toBe(
      path.join('/out', 'Black Man', 'rooftop', '4.webp'),
    );
  });

  it('keeps a hostile profile or scene name inside the output folder', () => {
    const file = resultPath('/out', job({ profile_name: '../../../root', scene_name: '/etc/passwd' }));
    expect(file.startsWith(`${path.sep}out${path.sep}`)).toBe(true);
    expect(file).not.toContain('..');
  });
});

describe('rosterProfiles', () => {
  it('reads a bare list or a profiles: list', () => {
    expect(rosterProfiles([{ name: 'A' }], 'r.yaml')).toEqual([{ name: 'A' }]);
    expect(rosterProfiles({ profiles: [{ name: 'B', steps: 9 }] }, 'r.yaml')).toEqual([
      { name: 'B', steps: 9 },
    ]);
  });

  it.each([
    [{}, 'expected a list of profiles'],
    [[], 'expected a list of profiles'],
    [[{ steps: 9 }], 'profile 1 needs a name'],
    [['x'], 'profile 1 needs a name'],
  ])('refuses %j with a message naming the file', (data, message) => {
    expect(() => rosterProfiles(data, 'roster.yaml')).toThrow(`roster.yaml: ${message}`);
  });
});

describe('sceneFile', () => {
  it('reads scenes with the optional campaign name and variants', () => {
    expect(sceneFile({ name: 'Rooftop', variants: 2, scenes: [{ prompt: 'p' }] }, 's.yaml')).toEqual({
      name: 'Rooftop',
      variants: 2,
      scenes: [{ prompt: 'p' }],
    });
    expect(sceneFile([{ prompt: 'q' }], 's.yaml')).toEqual({ scenes: [{ prompt: 'q' }] });
  });

  it('refuses a file without scenes', () => {
    expect(() => sceneFile({ scenes: [] }, 's.yaml')).toThrow('s.yaml: expected a list of scenes');
    expect(() => sceneFile({ scenes: ['x'] }, 's.yaml')).toThrow('s.yaml: scene 1 must be an object');
  });
});

describe('progressLine', () => {
  const campaign = (counts: Partial<Campaign['counts']>, extra: Partial<Campaign> = {}): Campaign => ({
    campaign_id: 'camp_0123456789abcdef',
    name: 'c',
    status: 'running',
    job_count: 10,
    profile_count: 5,
    scene_count: 1,
    variants: 2,
    priority: 0,
    counts: { queued: 0, pending: 0, processing: 0, completed: 0, failed: 0, cancelled: 0, ...counts },
    progress: 0,
    eta_seconds: 75,
    metadata: null,
    created_at: new Date(0).toISOString(),
    finished_at: null,
    ...extra,
  });

  it('shows the bar, the counts and the ETA while running', () => {
    const line = progressLine(campaign({ completed: 5, processing: 2, queued: 3 }, { progress: 50 }), 10);
    expect(line).toBe('[█████░░░░░]  50%  5/10 · 2 running · 3 waiting · ETA 1m15s');
  });

  it('shows failures and the final status once ended', () => {
    const line = progressLine(
      campaign({ completed: 9, failed: 1 }, { status: 'completed_with_failures', progress: 100 }),
      10,
    );
    expect(line).toBe(
      '[██████████] 100%  10/10 · 0 running · 0 waiting · 1 failed · completed_with_failures',
    );
  });
});
