/**
 * The seed's casting loop through the `castforge` command line, as a person runs it (README "Campaigns and the
 * CLI", issue #5): five profiles from a roster, one scene, `castforge campaign run` with a progress bar to the
 * end and every image downloaded into <out>/<profile>/<scene>/1.png; the same command again resumes; a
 * download cut short is completed by `castforge campaign download`; `--help`; a bad roster is a clear error.
 *
 * The CLI runs as a child process from apps/cli/dist, so it needs `npm run build` first (`npm test` builds
 * before jest). The roster is examples/casting/roster.yaml with the same five names, templates and seeds but
 * 64×64 images in 2 steps, to keep the run fast; the scene file is examples/casting/scenes.yaml itself.
 *
 * Result links are absolute URLs under PUBLIC_BASE_URL, the public name of the deployment: the test gives the
 * API a second listener whose port it knows before the API starts, and names that as PUBLIC_BASE_URL.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type ApiHarness, type WorkerHarness, startApi, startWorker } from '@castforge/testkit';
import { type Campaign, type CampaignJob } from '@castforge/schemas';
import sharp from 'sharp';
import request from 'supertest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';

const ROOT = path.resolve(__dirname, '..');
const BIN = path.join(ROOT, 'apps/cli/bin/castforge.js');
const EXAMPLE_ROSTER = path.join(ROOT, 'examples/casting/roster.yaml');
const SCENES = path.join(ROOT, 'examples/casting/scenes.yaml');
const NAMES = ['Caucasian Woman', 'Black Man', 'East Asian Woman', 'South Asian Man', 'Hispanic Woman'];

interface RosterEntry {
  name: string;
  prompt_template: string;
  fixed_seed: number;
  [field: string]: unknown;
}
interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `castforge <args>` in a child process (never blocking this process, where the API and worker run). */
function castforge(args: string[], cwd: string): Promise<Run> {
  const env = { ...process.env };
  delete env.CASTFORGE_URL;
  delete env.CASTFORGE_API_KEY;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 25_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Every file under `dir`, as paths relative to it, sorted. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

describe('castforge, the casting loop from the command line', () => {
  let front: Server;
  let api: ApiHarness;
  let worker: WorkerHarness;
  let work: string;
  let rosterFile: string;
  let out: string;
  let key: string;
  let roster: RosterEntry[];
  let campaignId: string;
  const expectedFiles = NAMES.map((name) => path.join(name, 'rooftop', '1.png')).sort();
  const runArgs = () => [
    'campaign',
    'run',
    '--roster',
    rosterFile,
    '--scenes',
    SCENES,
    '--out',
    out,
    '--url',
    api.baseUrl,
    '--key',
    key,
  ];

  beforeAll(async () => {
    if (!existsSync(path.join(ROOT, 'apps/cli/dist/main.js'))) {
      throw new Error('apps/cli/dist is missing: run `npm run build` before these tests (`npm test` does)');
    }
    front = createServer();
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    const publicBaseUrl = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
    api = await startApi('story-campaign-cli', { PUBLIC_BASE_URL: publicBaseUrl });
    front.on('request', api.app);
    worker = await startWorker(api.services, { SIMULATED_STEP_MS: '1' });
    key = await api.keyFor('cli-caster');

    work = await mkdtemp(path.join(tmpdir(), 'castforge-cli-'));
    out = path.join(work, 'results');
    const example = parseYaml(await readFile(EXAMPLE_ROSTER, 'utf8')) as { profiles: RosterEntry[] };
    roster = example.profiles.map((p) => ({ ...p, width: 64, height: 64, steps: 2 }));
    expect(roster.map((p) => p.name)).toEqual(NAMES);
    rosterFile = path.join(work, 'roster.yaml');
    await writeFile(rosterFile, stringifyYaml({ profiles: roster }));
  });
  afterAll(async () => {
    await worker.close();
    front.closeAllConnections();
    await new Promise((resolve) => front.close(resolve));
    await api.close();
    await rm(work, { recursive: true, force: true });
  });

  const campaignJobs = async (id: string) => {
    const res = await request(api.server).get(`/campaigns/v1/${id}/jobs?limit=100`).set('X-API-Key', key);
    expect(res.status).toBe(200);
    return res.body.jobs as CampaignJob[];
  };
  const mtimes = async () =>
    Object.fromEntries(
      await Promise.all(
        expectedFiles.map(async (f) => [f, (await stat(path.join(out, f))).mtimeMs] as const),
      ),
    );

  it('creates the five profiles, runs the scene across them with a progress bar to 100 %, and downloads five images', async () => {
    const run = await castforge(runArgs(), work);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);

    const lines = run.stdout.split('\n');
    expect(lines[0]).toBe(`profiles from ${rosterFile}:`);
    for (const name of NAMES)
      expect(lines).toContainEqual(
        expect.stringMatching(new RegExp(`^  \\+ ${name} \\(prof_[0-9a-f]{16}\\)$`)),
      );
    const announced = /^campaign (camp_[0-9a-f]{16}): 5 jobs$/m.exec(run.stdout);
    expect(announced).not.toBeNull();
    campaignId = announced![1]!;
    const bars = lines.filter((l) => l.startsWith('['));
    expect(bars.at(-1)).toMatch(/^\[█{30}\] 100% {2}5\/5 · 0 running · 0 waiting · completed$/);
    expect(lines).toContain(`downloaded 5, already there 0, into ${out}`);

    // Exactly five files, <out>/<profile>/<scene>/1.png, each a 64×64 PNG, no two alike.
    expect(await filesUnder(out)).toEqual(expectedFiles);
    const images = await Promise.all(expectedFiles.map((f) => readFile(path.join(out, f))));
    for (const image of images) {
      expect(await sharp(image).metadata()).toMatchObject({ format: 'png', width: 64, height: 64 });
    }
    expect(new Set(images.map((b) => b.toString('base64'))).size).toBe(5);

    // Each image was made with its own profile's seed and the merged prompt "<scene prompt>, <template>",
    // and is byte for byte the job's result.
    const jobs = await campaignJobs(campaignId);
    expect(jobs.map((j) => j.profile_name).sort()).toEqual([...NAMES].sort());
    for (const job of jobs) {
      const entry = roster.find((p) => p.name === job.profile_name)!;
      expect(job).toMatchObject({
        status: 'completed',
        scene_name: 'rooftop',
        variant: 0,
        seed: entry.fixed_seed,
        prompt: `A woman standing on a rooftop at sunset, golden hour, ${entry.prompt_template}`,
        result_mime_type: 'image/png',
      });
      const status = await request(api.server)
        .get(`/generate/image/v1/status/${job.job_id}`)
        .set('X-API-Key', key);
      expect(status.body).toMatchObject({
        campaign_id: campaignId,
        seed: entry.fixed_seed,
        prompt: job.prompt,
      });
      const file = await readFile(path.join(out, job.profile_name, 'rooftop', '1.png'));
      expect(file.length).toBe(job.result_size_bytes);
      const link = new URL(job.result_url!);
      const served = await request(api.server).get(`${link.pathname}${link.search}`).buffer(true);
      expect(Buffer.compare(served.body as Buffer, file)).toBe(0);
    }
  });

  it('resumes when the same command runs again: the same campaign, and nothing downloaded twice', async () => {
    const before = await mtimes();
    const run = await castforge(runArgs(), work);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    for (const name of NAMES)
      expect(run.stdout).toMatch(new RegExp(`^  = ${name} \\(prof_[0-9a-f]{16}, existing\\)$`, 'm'));
    expect(run.stdout).toContain(`campaign ${campaignId}: 5 jobs`);
    expect(run.stdout).toContain(`downloaded 0, already there 5, into ${out}`);
    expect(await mtimes()).toEqual(before);

    const campaigns = await request(api.server).get('/campaigns/v1').set('X-API-Key', key);
    expect((campaigns.body as { campaigns: Campaign[] }).campaigns.map((c) => c.campaign_id)).toEqual([
      campaignId,
    ]);
    const profiles = await request(api.server).get('/profiles/v1').set('X-API-Key', key);
    expect(profiles.body.total).toBe(5);
  });

  it('downloads just the one file that was deleted when the command runs again', async () => {
    const victim = path.join('Black Man', 'rooftop', '1.png');
    const original = await readFile(path.join(out, victim));
    const before = await mtimes();
    await rm(path.join(out, victim));

    const run = await castforge(runArgs(), work);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`campaign ${campaignId}: 5 jobs`);
    expect(run.stdout).toContain(`downloaded 1, already there 4, into ${out}`);
    expect(Buffer.compare(await readFile(path.join(out, victim)), original)).toBe(0);
    const after = await mtimes();
    for (const f of expectedFiles.filter((x) => x !== victim)) expect([f, after[f]]).toEqual([f, before[f]]);
    expect(await filesUnder(out)).toEqual(expectedFiles);
  });

  it('completes a download that was cut short with `castforge campaign download <id>`', async () => {
    // What an interrupted download leaves: files not fetched yet, and one half-written under its .part name.
    const missing = [
      path.join('East Asian Woman', 'rooftop', '1.png'),
      path.join('Hispanic Woman', 'rooftop', '1.png'),
    ];
    const originals = await Promise.all(missing.map((f) => readFile(path.join(out, f))));
    for (const f of missing) await rm(path.join(out, f));
    await writeFile(
      `${path.join(out, missing[0]!)}.part`,
      originals[0]!.subarray(0, originals[0]!.length >> 1),
    );
    await rm(path.join(out, 'Hispanic Woman'), { recursive: true });

    const run = await castforge(
      ['campaign', 'download', campaignId, '--out', out, '--url', api.baseUrl, '--key', key],
      work,
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`downloaded 2, already there 3, into ${out}`);
    expect(await filesUnder(out)).toEqual(expectedFiles);
    for (const [i, f] of missing.entries()) {
      expect(Buffer.compare(await readFile(path.join(out, f)), originals[i]!)).toBe(0);
    }
  });

  it('prints its usage for `castforge --help` and exits 0', async () => {
    const run = await castforge(['--help'], work);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('castforge campaign run --roster <roster.yaml> --scenes <scenes.yaml>');
    expect(run.stdout).toContain('castforge campaign download <campaign_id>');
    expect(run.stdout).toContain('castforge profiles create');
  });

  describe('with an invalid roster file', () => {
    const bad = async (file: string, text: string) => {
      const badRoster = path.join(work, file);
      await writeFile(badRoster, text);
      const badKey = await api.keyFor('cli-bad-roster');
      const run = await castforge(
        [
          'campaign',
          'run',
          '--roster',
          badRoster,
          '--scenes',
          SCENES,
          '--out',
          path.join(work, 'bad'),
          '--url',
          api.baseUrl,
          '--key',
          badKey,
        ],
        work,
      );
      // Nothing was created for the tenant, and nothing downloaded.
      const profiles = await request(api.server).get('/profiles/v1').set('X-API-Key', badKey);
      const campaigns = await request(api.server).get('/campaigns/v1').set('X-API-Key', badKey);
      expect([profiles.body.total, campaigns.body.campaigns.length]).toEqual([0, 0]);
      expect(existsSync(path.join(work, 'bad'))).toBe(false);
      expect(run.stdout).not.toContain('campaign camp_');
      expect(run.code).toBe(1);
      return { run, badRoster };
    };

    it('says the file is not valid YAML, and exits 1', async () => {
      const { run, badRoster } = await bad('broken.yaml', 'profiles:\n  - name: "Unclosed\n    steps: [2\n');
      expect(run.stderr).toMatch(
        new RegExp(`^castforge: ${badRoster.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not valid YAML`),
      );
    });

    it('names the entry that has no name, and exits 1', async () => {
      const { run } = await bad(
        'nameless.yaml',
        stringifyYaml({ profiles: [{ name: 'Fine' }, { prompt_template: 'who?' }] }),
      );
      expect(run.stderr).toMatch(/^castforge: .*nameless\.yaml: profile 2 needs a name\n$/);
    });

    it('shows the field the API refused and why, and exits 1', async () => {
      const { run } = await bad(
        'refused.yaml',
        stringifyYaml({ profiles: [{ name: 'Odd size', width: 65, height: 64 }] }),
      );
      expect(run.stderr).toMatch(/^castforge: 422 INVALID_PARAMETERS: /);
      expect(run.stderr).toContain('  body.width: must be a multiple of 8');
    });
  });
});
