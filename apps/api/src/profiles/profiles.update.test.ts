import { type ApiHarness, expectError, locsOf, startApi } from '@castforge/testkit';
import request from 'supertest';

describe('PATCH /profiles/v1/:profile_id', () => {
  let api: ApiHarness;
  let key: string;
  beforeAll(async () => {
    api = await startApi('profiles-update');
    key = await api.keyFor('patcher');
  });
  afterAll(() => api.close());

  const full = {
    name: 'Full',
    description: 'Every optional field set',
    tags: ['a', 'b'],
    prompt_template: 'woman, 30s, freckles',
    prompt_template_mode: 'prefix',
    negative_prompt: 'blurry',
    steps: 30,
    cfg_scale: 6.5,
    seed_strategy: 'fixed',
    fixed_seed: 42,
    width: 832,
    height: 1216,
    output_format: 'webp',
    adapter: { model: 'sdxl', identity_adapter: 'instantid', identity_strength: 0.9 },
    storage: { provider: 's3', bucket: 'b', region: 'eu-west-1' },
  };

  async function createProfile(body: Record<string, unknown> = full) {
    const res = await request(api.server).post('/profiles/v1').set('X-API-Key', key).send(body);
    expect(res.status).toBe(201);
    return res.body as { profile_id: string; version: number; created_at: string; updated_at: string };
  }
  const patch = (id: string, body: unknown, ifMatch?: string) => {
    const req = request(api.server).patch(`/profiles/v1/${id}`).set('X-API-Key', key);
    if (ifMatch !== undefined) req.set('If-Match', ifMatch);
    return req.send(body as object);
  };
  const get = (id: string) => request(api.server).get(`/profiles/v1/${id}`).set('X-API-Key', key);

  it('replaces only the fields sent, adds 1 to version and answers the new ETag', async () => {
    const created = await createProfile();
    const res = await patch(created.profile_id, { description: 'Changed', steps: 12 });
    expect(res.status).toBe(200);
    expect(res.headers.etag).toBe('"2"');
    expect(res.body).toEqual({
      ...created,
      description: 'Changed',
      version: 2,
      adapter_snapshot: {
        ...(created as unknown as { adapter_snapshot: object }).adapter_snapshot,
        steps: 12,
      },
      updated_at: expect.any(String),
    });
    expect(Date.parse(res.body.updated_at)).toBeGreaterThanOrEqual(Date.parse(created.updated_at));
    expect((await get(created.profile_id)).body).toEqual(res.body);
  });

  it('replaces the adapter as a whole rather than merging into it', async () => {
    const created = await createProfile();
    const res = await patch(created.profile_id, { adapter: { model: 'flux' } });
    expect(res.status).toBe(200);
    expect(res.body.adapter_snapshot.adapter).toEqual({ model: 'flux' });
  });

  it('clears optional fields sent as null and resets the mode and seed strategy to their defaults', async () => {
    const created = await createProfile();
    const res = await patch(created.profile_id, {
      description: null,
      tags: null,
      prompt_template: null,
      prompt_template_mode: null,
      negative_prompt: null,
      steps: null,
      cfg_scale: null,
      seed_strategy: null,
      fixed_seed: null,
      width: null,
      height: null,
      output_format: null,
      adapter: null,
      storage: null,
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: 'Full', description: null, tags: [], storage: null, version: 2 });
    expect(res.body.adapter_snapshot).toEqual({ prompt_template_mode: 'suffix', seed_strategy: 'random' });
  });

  it('refuses to clear the name, which is required', async () => {
    const created = await createProfile();
    const body = expectError(await patch(created.profile_id, { name: null }), 'INVALID_PARAMETERS');
    expect(locsOf(body)).toEqual(['body.name']);
  });

  it('validates the result as a whole: seed_strategy fixed on a profile without fixed_seed is a 422', async () => {
    const created = await createProfile({ name: 'No seed' });
    const body = expectError(
      await patch(created.profile_id, { seed_strategy: 'fixed' }),
      'INVALID_PARAMETERS',
    );
    expect(body.detail).toEqual([
      { loc: ['body', 'fixed_seed'], msg: 'is required when seed_strategy is fixed', type: 'missing' },
    ]);
    const after = await get(created.profile_id);
    expect(after.body.version).toBe(1);
    expect(after.body.adapter_snapshot.seed_strategy).toBe('random');
  });

  it('validates the result as a whole: clearing fixed_seed while the strategy is fixed is a 422', async () => {
    const created = await createProfile();
    const body = expectError(await patch(created.profile_id, { fixed_seed: null }), 'INVALID_PARAMETERS');
    expect(locsOf(body)).toEqual(['body.fixed_seed']);
    expect((await get(created.profile_id)).body.adapter_snapshot.fixed_seed).toBe(42);
  });

  it('accepts switching to fixed when the same PATCH brings the seed', async () => {
    const created = await createProfile({ name: 'Will be fixed' });
    const res = await patch(created.profile_id, { seed_strategy: 'fixed', fixed_seed: 7 });
    expect(res.status).toBe(200);
    expect(res.body.adapter_snapshot).toMatchObject({ seed_strategy: 'fixed', fixed_seed: 7 });
  });

  it('names every bad field of a PATCH at once and changes nothing', async () => {
    const created = await createProfile();
    const body = expectError(
      await patch(created.profile_id, { width: 7, steps: 0, output_format: 'gif', colour: 'blue' }),
      'INVALID_PARAMETERS',
    );
    expect(new Set(locsOf(body))).toEqual(
      new Set(['body.width', 'body.steps', 'body.output_format', 'body.colour']),
    );
    const after = await get(created.profile_id);
    expect(after.body).toEqual(created);
  });

  it('adds exactly 1 to version for every successful PATCH, and none for a refused one', async () => {
    const created = await createProfile();
    for (const [i, steps] of [10, 20, 30].entries()) {
      const res = await patch(created.profile_id, { steps });
      expect(res.body.version).toBe(i + 2);
      expect(res.headers.etag).toBe(`"${i + 2}"`);
    }
    expect((await patch(created.profile_id, { steps: 0 })).status).toBe(422);
    const after = await get(created.profile_id);
    expect(after.body.version).toBe(4);
    expect(after.headers.etag).toBe('"4"');
  });

  it('counts an empty PATCH as an update too, and refuses a PATCH without a body', async () => {
    const created = await createProfile();
    const empty = await patch(created.profile_id, {});
    expect(empty.status).toBe(200);
    expect(empty.body.version).toBe(2);

    const noBody = await request(api.server)
      .patch(`/profiles/v1/${created.profile_id}`)
      .set('X-API-Key', key);
    const body = expectError(noBody, 'INVALID_PARAMETERS');
    expect(body.detail).toEqual([{ loc: ['body'], msg: 'is required', type: 'missing' }]);
    expect(body.message).toBe('body: is required');
  });

  it('accepts a JSON merge-patch Content-Type', async () => {
    const created = await createProfile();
    const res = await request(api.server)
      .patch(`/profiles/v1/${created.profile_id}`)
      .set('X-API-Key', key)
      .set('Content-Type', 'application/merge-patch+json')
      .send(JSON.stringify({ name: 'Merged' }));
    expect(res.status).toBe(200);
    expect(res.body.name).toBe('Merged');
  });

  it('applies concurrent PATCHes without If-Match one after another, so none is lost', async () => {
    const created = await createProfile();
    const answers = await Promise.all([1, 2, 3, 4].map((steps) => patch(created.profile_id, { steps })));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(answers.map((r) => (r.body as { version: number }).version).sort()).toEqual([2, 3, 4, 5]);
    expect((await get(created.profile_id)).body.version).toBe(5);
  });

  it('answers 404 for an unknown profile', async () => {
    expectError(await patch('prof_0000000000000000', { name: 'x' }), 'NOT_FOUND');
  });

  describe('with If-Match', () => {
    it('when If-Match is stale, answers 412 and changes nothing', async () => {
      const created = await createProfile();
      expect((await patch(created.profile_id, { steps: 10 })).status).toBe(200);
      const stale = await patch(created.profile_id, { name: 'Lost update' }, '"1"');
      const body = expectError(stale, 'PRECONDITION_FAILED');
      expect(body.message).toMatch(/version 1.*version 2/);
      const after = await get(created.profile_id);
      expect(after.body).toMatchObject({ name: 'Full', version: 2 });
    });

    it('when If-Match is current, applies the PATCH', async () => {
      const created = await createProfile();
      const res = await patch(created.profile_id, { name: 'Renamed' }, '"1"');
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ name: 'Renamed', version: 2 });
      const again = await patch(created.profile_id, { name: 'Again' }, res.headers.etag);
      expect(again.status).toBe(200);
      expect(again.body.version).toBe(3);
    });

    it('accepts * as matching any version, and a weak or unquoted version', async () => {
      const created = await createProfile();
      expect((await patch(created.profile_id, { steps: 1 }, '*')).status).toBe(200);
      expect((await patch(created.profile_id, { steps: 2 }, 'W/"2"')).status).toBe(200);
      expect((await patch(created.profile_id, { steps: 3 }, '3')).status).toBe(200);
      expect((await get(created.profile_id)).body.version).toBe(4);
    });

    it('lets only one of two concurrent PATCHes with the same If-Match win', async () => {
      const created = await createProfile();
      const answers = await Promise.all([
        patch(created.profile_id, { name: 'One' }, '"1"'),
        patch(created.profile_id, { name: 'Two' }, '"1"'),
      ]);
      expect(answers.map((r) => r.status).sort()).toEqual([200, 412]);
      const winner = answers.find((r) => r.status === 200)!;
      expect((await get(created.profile_id)).body).toMatchObject({ name: winner.body.name, version: 2 });
    });

    it('answers 412 for an If-Match that names no version, and changes nothing', async () => {
      const created = await createProfile();
      expectError(await patch(created.profile_id, { steps: 1 }, 'not-a-version'), 'PRECONDITION_FAILED');
      expect((await get(created.profile_id)).body.version).toBe(1);
    });

    it('answers 404, not 412, when the profile does not exist', async () => {
      expectError(await patch('prof_0000000000000000', { name: 'x' }, '"1"'), 'NOT_FOUND');
    });
  });
});
