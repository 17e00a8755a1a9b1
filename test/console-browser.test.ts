/**
 * The casting console in a real browser (issue #14), as a new user meets it: the stack started the way
 * `npm start` starts it, Debian's headless Chromium driven by playwright-core, and nothing but clicks and
 * keys. Sign in with the demo key, create two profiles (one refused field first, its message next to it),
 * edit one and read the diff, launch a 2 × 2 × 2 campaign and watch all eight cells become images, open a
 * job in the inspector and run it again with its seed, cancel a slow second campaign half-way and see its
 * cancelled cells, and check that another tenant's key shows none of it.
 *
 * Needs `npm run build` first (`npm test` builds before jest). Screenshots go to test-artifacts/.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { unzipSync } from 'fflate';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { type TestServices, openServices } from '@castforge/testkit';
import { launchChromium } from './console/browser';
import { see, textOf, textsOf } from './console/see';
import { type StackProcess, startStack } from './console/stack-process';

const ROOT = path.resolve(__dirname, '..');
const ARTIFACTS = path.join(ROOT, 'test-artifacts');
/** The browser globals that code run in the page uses (this program is typed for Node, not the DOM). */
interface InPage {
  sessionStorage: { getItem(key: string): string | null };
  document: { documentElement: { scrollWidth: number } };
  innerWidth: number;
}
/** Each simulated step takes this long; a scene's steps then decide how slow its jobs are. */
const STEP_MS = 40;

describe('the casting console in Chromium', () => {
  let services: TestServices;
  let stack: StackProcess;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let dataDir: string;
  const profileIds: string[] = [];

  beforeAll(async () => {
    for (const built of ['apps/stack/dist/index.js', 'apps/console/dist/index.html']) {
      if (!existsSync(path.join(ROOT, built)))
        throw new Error(`${built} is missing: run \`npm run build\` before these tests (\`npm test\` does)`);
    }
    await mkdir(ARTIFACTS, { recursive: true });
    services = await openServices('console-browser');
    dataDir = await mkdtemp(path.join(tmpdir(), 'castforge-console-'));
    stack = await startStack({
      DATA_DIR: dataDir,
      REDIS_PREFIX: services.prefix,
      MONGODB_URI: `${services.mongoUri}/${services.dbName}`,
      SIMULATED_STEP_MS: String(STEP_MS),
    });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    await services?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }, 30_000);

  const heading = (name: string | RegExp) => page.getByRole('heading', { level: 1, name });

  it('asks for the API key once and keeps it in the tab only (never a cookie or the URL)', async () => {
    await page.goto(`${stack.baseUrl}/console/`);
    await page.getByLabel('API key').fill('cfk_wrong_key_0000');
    await page.getByLabel('API key').press('Enter');
    await see(
      () => textOf(page.getByRole('alert')),
      (t) => expect(t).toBe('This API key was not accepted.'),
    );

    await page.getByLabel('API key').fill(stack.demoKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await heading('Campaigns').waitFor();
    expect(
      await page.evaluate(() => (globalThis as unknown as InPage).sessionStorage.getItem('castforge.apiKey')),
    ).toBe(stack.demoKey);
    expect(await context.cookies()).toEqual([]);
    expect(page.url()).not.toContain(stack.demoKey);

    // A reload keeps the session; the key is not asked again.
    await page.reload();
    await heading('Campaigns').waitFor();
  });

  it('creates two profiles, showing the API’s message next to the field it refused', async () => {
    const identities = [
      { name: 'Mara <b>Okafor</b>', prompt: 'Nigerian woman, early 30s, short natural hair', seed: '101' },
      { name: 'Lene Voss', prompt: 'Danish woman, late 40s, silver bob, reading glasses', seed: '202' },
    ];
    for (const [i, identity] of identities.entries()) {
      await page.getByRole('link', { name: 'Profiles' }).click();
      await page.getByRole('link', { name: 'New profile' }).click();
      await heading('New profile').waitFor();
      await page.getByLabel('Name').fill(identity.name);
      await page.getByLabel('Identity prompt').fill(identity.prompt);
      await page.getByLabel('Tags').fill(`casting, e2e${i}`);
      await page.getByLabel('Width').fill(i === 0 ? '65' : '64');
      await page.getByLabel('Height').fill('64');
      await page.getByLabel('Output format').selectOption('png');
      await page.getByLabel('Seed strategy').selectOption('fixed');
      await page.getByLabel('Fixed seed').fill(identity.seed);
      await page.getByRole('button', { name: 'Create profile' }).click();
      if (i === 0) {
        // SPEC §8: the 422's detail[].loc names body.width; the message sits under the Width field.
        await see(
          () => textOf(page.locator('#profile-width-error')),
          (t) => expect(t).toBe('must be a multiple of 8'),
        );
        await see(
          () => page.getByLabel('Width').getAttribute('aria-invalid'),
          (v) => expect(v).toBe('true'),
        );
        await page.getByLabel('Width').fill('64');
        await page.getByRole('button', { name: 'Create profile' }).click();
      }
      // The name is shown as text: the markup a tenant typed is never markup in the page.
      await heading(identity.name).waitFor();
      expect(await page.locator('h1 b').count()).toBe(0);
      profileIds.push(page.url().split('/').pop()!);
    }
    expect(profileIds.every((id) => /^prof_[0-9a-f]{16}$/.test(id))).toBe(true);

    await page.getByRole('link', { name: 'Profiles' }).click();
    await page.getByText('2 of 2').waitFor();
    await page.getByRole('searchbox', { name: 'Search' }).fill('danish');
    await page.getByText('1 of 2').waitFor();
    await page.getByRole('link', { name: 'Lene Voss' }).waitFor();
    await page.getByRole('searchbox', { name: 'Search' }).fill('');
    await page.getByLabel('Tag').selectOption('e2e0');
    await page.getByText('1 of 2').waitFor();
    await page.getByRole('link', { name: 'Mara <b>Okafor</b>' }).waitFor();
  });

  it('edits a profile and shows the difference between its versions', async () => {
    await page.getByRole('link', { name: 'Mara <b>Okafor</b>' }).click();
    await page.getByRole('button', { name: 'Edit' }).click();
    await page.getByLabel('Description').fill('Lead, spring campaign');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await see(
      () => textOf(page.locator('.badge')),
      (t) => expect(t).toBe('v2'),
    );
    const diff = page.getByRole('table', { name: 'Differences between v1 and v2' });
    await see(
      () => textOf(diff.getByRole('row', { name: /description/ })),
      (t) => expect(t).toContain('Lead, spring campaign'),
    );
    expect(await diff.getByRole('row').count()).toBe(2); // the header and the one changed field
  });

  it('launches a 2 × 2 × 2 campaign with the job count and an estimate, and watches all eight cells turn into images', async () => {
    await launch('Spring lookbook', [
      { name: 'Rooftop', prompt: 'standing on a rooftop at sunset', steps: '2' },
      { name: 'Studio', prompt: 'studio portrait, grey backdrop', steps: '2' },
    ]);
    const sheet = page.getByRole('region', { name: 'Contact sheet' });
    await see(
      () => textsOf(sheet.getByRole('columnheader')),
      (t) => expect(t).toEqual(['Identity \\ scene', 'Rooftop', 'Studio']),
    );
    await see(
      () => textsOf(sheet.getByRole('rowheader')),
      // Newest profile first, as the roster lists them.
      (t) => expect(t).toEqual(['Lene Voss', 'Mara <b>Okafor</b>']),
    );
    await see(
      () => sheet.locator('a.tile').count(),
      (n) => expect(n).toBe(8),
    );
    await see(
      () => sheet.locator('a.tile[data-status="completed"] img').count(),
      (n) => expect(n).toBe(8),
      30_000,
    );
    await see(
      () => textOf(page.locator('.status')),
      (t) => expect(t).toBe('Completed'),
    );
    // Every thumbnail really loaded from its signed link.
    await see(
      () =>
        sheet
          .locator('img')
          .evaluateAll(
            (imgs) =>
              imgs.filter((i) => (i as unknown as { naturalWidth: number }).naturalWidth === 64).length,
          ),
      (n) => expect(n).toBe(8),
    );
    await page.screenshot({ path: path.join(ARTIFACTS, 'console-sheet.png'), fullPage: true });

    // Download all: a zip of eight PNGs laid out <profile>/<scene>/<variant>.png.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download all (zip)' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe('Spring lookbook.zip');
    const file = path.join(ARTIFACTS, 'spring-lookbook.zip');
    await download.saveAs(file);
    const entries = Object.keys(unzipSync(new Uint8Array(await readFile(file)))).sort();
    expect(entries).toEqual(
      ['Lene Voss', 'Mara -b-Okafor-b-'].flatMap((p) =>
        ['Rooftop', 'Studio'].flatMap((s) => [`${p}/${s}/1.png`, `${p}/${s}/2.png`]),
      ),
    );

    // On a tablet the sheet scrolls inside its own frame; the page itself never scrolls sideways.
    await page.setViewportSize({ width: 820, height: 1180 });
    expect(
      await page.evaluate(() => {
        const w = globalThis as unknown as InPage;
        return w.document.documentElement.scrollWidth <= w.innerWidth;
      }),
    ).toBe(true);
    await page.screenshot({ path: path.join(ARTIFACTS, 'console-sheet-tablet.png') });
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('opens a job in the inspector from the keyboard and runs it again with its seed', async () => {
    await page.getByRole('link', { name: 'Lene Voss — Studio, variant 2: Done' }).focus();
    await page.keyboard.press('Enter');
    await heading(/^Job job_/).waitFor();
    const facts = page.locator('dl.facts');
    await see(
      () => textOf(facts),
      (t) =>
        expect(t).toContain(
          'studio portrait, grey backdrop, Danish woman, late 40s, silver bob, reading glasses',
        ),
    );
    // A fixed profile: variant i uses fixed_seed + i.
    await see(
      () => textOf(facts.locator('dt:has-text("Seed") + dd')),
      (t) => expect(t).toBe('203'),
    );
    await see(
      () => textOf(facts),
      (t) => expect(t).toContain('Lene Voss · version 1'),
    );
    await see(
      () => textOf(facts.locator('dt:has-text("Attempts") + dd')),
      (t) => expect(t).toBe('1'),
    );
    await page.getByText('No webhook for this job').waitFor();
    await page.getByRole('img', { name: /^Result of job_/ }).waitFor();
    const first = page.url();

    await see(
      () => page.getByLabel('Scene prompt').inputValue(),
      (v) => expect(v).toBe('studio portrait, grey backdrop'),
    );
    await page.getByRole('button', { name: 'Run again with this seed' }).click();
    await see(
      () => Promise.resolve(page.url()),
      (url) => expect(url).not.toBe(first),
    );
    await see(
      () => textOf(page.locator('.page-head .status')),
      (t) => expect(t).toBe('completed'),
      20_000,
    );
    await see(
      () => textOf(page.locator('dl.facts dt:has-text("Seed") + dd')),
      (t) => expect(t).toBe('202'),
    );
    await see(
      () => textOf(page.locator('dl.facts')),
      (t) => expect(t).toContain('studio portrait, grey backdrop, Danish woman'),
    );
  });

  it('cancels a slow second campaign half-way and shows its cancelled cells', async () => {
    // 50 steps × 40 ms: two seconds a job on the one simulated GPU, so the eight take about sixteen.
    await launch('Night shoot', [
      { name: 'Alley', prompt: 'neon alley at night, rain', steps: '50' },
      { name: 'Diner', prompt: 'late-night diner booth', steps: '50' },
    ]);
    const sheet = page.getByRole('region', { name: 'Contact sheet' });
    const tiles = (status: string) => sheet.locator(`a.tile[data-status="${status}"]`);
    await see(
      () => sheet.locator('a.tile').count(),
      (n) => expect(n).toBe(8),
    );
    // Before it ends: a placeholder with the status, and the queue position of the jobs still waiting.
    await see(
      () => textOf(tiles('processing').first()),
      (t) => expect(t).toMatch(/^Processing · \d+ %/),
    );
    await see(
      () => textOf(tiles('queued').first()),
      (t) => expect(t).toMatch(/^Queued · \d+ ahead$/),
    );
    // Half-way: two images in, then cancel.
    await see(
      () => tiles('completed').count(),
      (n) => expect(n).toBeGreaterThanOrEqual(2),
      20_000,
    );
    await page.getByRole('button', { name: 'Cancel campaign' }).click();
    await see(
      () => textOf(page.locator('.status')),
      (t) => expect(t).toBe('Cancelled'),
      20_000,
    );
    await see(
      () => sheet.locator('a.tile[data-status="queued"], a.tile[data-status="processing"]').count(),
      (n) => expect(n).toBe(0),
    );
    const completed = await tiles('completed').count();
    const cancelled = await tiles('cancelled').count();
    expect(completed).toBeGreaterThanOrEqual(2);
    expect(cancelled).toBeGreaterThanOrEqual(2);
    expect(completed + cancelled).toBe(8);
    expect(await textsOf(tiles('cancelled'))).toEqual(Array(cancelled).fill('Cancelled'));
    await see(
      () => textOf(page.locator('.progress-line .counts')),
      (t) => expect(t).toContain(`${cancelled} cancelled`),
    );
    await page.screenshot({ path: path.join(ARTIFACTS, 'console-cancelled.png'), fullPage: true });

    await page.getByRole('link', { name: 'Campaigns' }).click();
    await see(
      () => page.locator('.campaign-list li').count(),
      (n) => expect(n).toBe(2),
    );
    await see(
      () => textOf(page.locator('.campaign-list li').first()),
      (t) => expect(t).toContain('Night shoot'),
    );
    await see(
      () => textOf(page.locator('.campaign-list li').first().locator('.status')),
      (t) => expect(t).toBe('Cancelled'),
    );
  });

  it("never shows a second tenant the first tenant's profiles or campaigns", async () => {
    const rivalKey = await stack.keyFor('rival');
    const rival = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const other = await rival.newPage();
      await other.goto(`${stack.baseUrl}/console/profiles`);
      await other.getByLabel('API key').fill(rivalKey);
      await other.getByRole('button', { name: 'Sign in' }).click();
      await other.getByRole('heading', { level: 1, name: 'Profiles' }).waitFor();
      await other.getByText(/^No profiles yet/).waitFor();
      await see(
        () => other.getByText('Lene Voss').count(),
        (n) => expect(n).toBe(0),
      );

      // A direct link to the first tenant's profile is a 404, exactly as an unknown id.
      await other.goto(`${stack.baseUrl}/console/profiles/${profileIds[0]}`);
      await see(
        () => textOf(other.getByRole('alert')),
        (t) => expect(t).toContain('(404)'),
      );
      await other.goto(`${stack.baseUrl}/console/campaigns`);
      await other.getByText(/^No campaigns yet/).waitFor();
    } finally {
      await rival.close();
    }
  });

  /** Fills the new-campaign form with both profiles, these scenes and two variants, checks the count, launches. */
  async function launch(name: string, scenes: { name: string; prompt: string; steps: string }[]) {
    await page.getByRole('link', { name: 'Campaigns' }).click();
    await page.getByRole('link', { name: 'New campaign' }).click();
    await page.getByLabel('Campaign name').fill(name);
    await page.getByRole('checkbox', { name: /Mara <b>Okafor<\/b>/ }).check();
    await page.getByRole('checkbox', { name: /Lene Voss/ }).check();
    for (const [i, scene] of scenes.entries()) {
      if (i > 0) await page.getByRole('button', { name: 'Add a scene' }).click();
      await page.getByLabel(`Scene ${i + 1} name`).fill(scene.name);
      await page.getByLabel(`Scene ${i + 1} prompt`).fill(scene.prompt);
      await page.getByLabel(`Scene ${i + 1} steps`).fill(scene.steps);
    }
    await page.getByLabel('Variants per identity × scene').fill('2');
    const summary = page.getByTestId('campaign-estimate');
    await see(
      () => textOf(summary),
      (t) => expect(t).toContain('2 × 2 × 2 = 8 jobs'),
    );
    await see(
      () => textOf(summary),
      (t) => expect(t).toMatch(/about \d+/),
    );
    await page.getByRole('button', { name: 'Launch 8 jobs' }).click();
    await heading(name).waitFor();
  }
});
