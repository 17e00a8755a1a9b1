import { type ApiHarness, expectError, locsOf, startApi } from '@castforge/testkit';
import request from 'supertest';

const GENERATE = '/generate/image/v1';
const MAX_SEED = 4294967295;

/** `{"k":"…"}` whose JSON form is exactly `bytes` long (ASCII). */
const metadataOfBytes = (bytes: number) => ({ k: 'x'.repeat(bytes - '{"k":""}'.length) });

describe('POST /generate/image/v1 field rules (SPEC §3)', () => {
  let api: ApiHarness;
  let key: string;
  beforeAll(async () => {
    api = await startApi('generation-validation');
    key = await api.keyFor('fields');
  });
  afterAll(() => api.close());

  const submit = (body: unknown) =>
    request(api.server)
      .post(GENERATE)
      .set('X-API-Key', key)
      .send(body as object);
  const inFlight = async () => await api.deps.jobs.inFlight('fields');

  const accepted: [string, Record<string, unknown>][] = [
    ['a 1-character prompt', { prompt: 'a' }],
    ['a 4000-character prompt', { prompt: 'p'.repeat(4000) }],
    ['an empty negative_prompt', { negative_prompt: '' }],
    ['a 4000-character negative_prompt', { negative_prompt: 'n'.repeat(4000) }],
    ['width and height 64', { width: 64, height: 64 }],
    ['width and height 2048', { width: 2048, height: 2048 }],
    ['width 1000 (a multiple of 8)', { width: 1000 }],
    ['num_inference_steps 1', { num_inference_steps: 1 }],
    ['num_inference_steps 150', { num_inference_steps: 150 }],
    ['guidance_scale 0', { guidance_scale: 0 }],
    ['guidance_scale 7.5', { guidance_scale: 7.5 }],
    ['guidance_scale 30', { guidance_scale: 30 }],
    ['seed -1', { seed: -1 }],
    ['seed 0', { seed: 0 }],
    ['seed 4294967295', { seed: MAX_SEED }],
    ['output_format png', { output_format: 'png' }],
    ['output_format jpeg', { output_format: 'jpeg' }],
    ['output_format webp', { output_format: 'webp' }],
    ['priority 0', { priority: 0 }],
    ['priority 10', { priority: 10 }],
    ['an empty metadata object', { metadata: {} }],
    ['nested metadata', { metadata: { shot: { id: 'A-1', tags: ['x', 1, true, null] } } }],
    ['metadata of exactly 4096 bytes', { metadata: metadataOfBytes(4096) }],
    ['an https callback_url', { callback_url: 'https://8.8.8.8/hooks/castforge?tenant=1' }],
  ];

  it.each(accepted)('accepts %s', async (_label, fields) => {
    const res = await submit({ prompt: 'a lighthouse', ...fields });
    expect({ status: res.status, body: res.body }).toEqual({
      status: 202,
      body: expect.objectContaining({ status: 'queued' }),
    });
  });

  const refused: [string, Record<string, unknown>, string][] = [
    ['an empty prompt', { prompt: '' }, 'prompt'],
    ['a 4001-character prompt', { prompt: 'p'.repeat(4001) }, 'prompt'],
    ['a prompt that is not a string', { prompt: 42 }, 'prompt'],
    ['a 4001-character negative_prompt', { negative_prompt: 'n'.repeat(4001) }, 'negative_prompt'],
    ['width 56', { width: 56 }, 'width'],
    ['width 63', { width: 63 }, 'width'],
    ['width 2056', { width: 2056 }, 'width'],
    ['width 1001 (not a multiple of 8)', { width: 1001 }, 'width'],
    ['width 512.5', { width: 512.5 }, 'width'],
    ['width as a string', { width: '512' }, 'width'],
    ['height 0', { height: 0 }, 'height'],
    ['height 1020 (not a multiple of 8)', { height: 1020 }, 'height'],
    ['height 4096', { height: 4096 }, 'height'],
    ['num_inference_steps 0', { num_inference_steps: 0 }, 'num_inference_steps'],
    ['num_inference_steps 151', { num_inference_steps: 151 }, 'num_inference_steps'],
    ['num_inference_steps 20.5', { num_inference_steps: 20.5 }, 'num_inference_steps'],
    ['guidance_scale -0.1', { guidance_scale: -0.1 }, 'guidance_scale'],
    ['guidance_scale 30.1', { guidance_scale: 30.1 }, 'guidance_scale'],
    ['guidance_scale as a string', { guidance_scale: '7' }, 'guidance_scale'],
    ['seed -2', { seed: -2 }, 'seed'],
    ['seed 4294967296', { seed: MAX_SEED + 1 }, 'seed'],
    ['seed 1.5', { seed: 1.5 }, 'seed'],
    ['seed as a string', { seed: '42' }, 'seed'],
    ['output_format jpg', { output_format: 'jpg' }, 'output_format'],
    ['output_format PNG', { output_format: 'PNG' }, 'output_format'],
    ['output_format gif', { output_format: 'gif' }, 'output_format'],
    ['priority -1', { priority: -1 }, 'priority'],
    ['priority 11', { priority: 11 }, 'priority'],
    ['priority 2.5', { priority: 2.5 }, 'priority'],
    ['metadata of 4097 bytes', { metadata: metadataOfBytes(4097) }, 'metadata'],
    [
      'metadata of 2100 two-byte characters (4 KB counts bytes)',
      { metadata: { k: 'é'.repeat(2100) } },
      'metadata',
    ],
    ['metadata that is an array', { metadata: ['a'] }, 'metadata'],
    ['metadata that is a string', { metadata: 'hello' }, 'metadata'],
    ['an ftp callback_url', { callback_url: 'ftp://8.8.8.8/hook' }, 'callback_url'],
    ['a javascript: callback_url', { callback_url: 'javascript:alert(1)' }, 'callback_url'],
    ['a file: callback_url', { callback_url: 'file:///etc/passwd' }, 'callback_url'],
    ['a relative callback_url', { callback_url: '/hooks/castforge' }, 'callback_url'],
    ['a callback_url that is not a URL', { callback_url: 'not a url' }, 'callback_url'],
    [
      'a callback_url over 2048 characters',
      { callback_url: `https://8.8.8.8/${'a'.repeat(2048)}` },
      'callback_url',
    ],
    ['an unknown field', { num_images: 4 }, 'num_images'],
    ['a misspelt field', { guidance: 7 }, 'guidance'],
  ];

  it.each(refused)(
    'refuses %s with 422 naming the field, and creates no job',
    async (_label, fields, field) => {
      const before = await inFlight();
      const body = expectError(await submit({ prompt: 'a lighthouse', ...fields }), 'INVALID_PARAMETERS');
      // A value can break two rules at once (63: too small and not a multiple of 8); each is named.
      expect([...new Set(locsOf(body))]).toEqual([`body.${field}`]);
      expect(body.message).toContain(field);
      expect(await inFlight()).toBe(before);
    },
  );

  it('names every bad field in one 422, unknown fields included', async () => {
    const body = expectError(
      await submit({
        prompt: '',
        width: 65,
        height: 4096,
        num_inference_steps: 0,
        guidance_scale: 31,
        seed: -5,
        output_format: 'bmp',
        priority: 99,
        metadata: [],
        callback_url: 'gopher://x',
        colour: 'red',
        n: 2,
      }),
      'INVALID_PARAMETERS',
    );
    expect(locsOf(body).sort()).toEqual(
      [
        'body.prompt',
        'body.width',
        'body.height',
        'body.num_inference_steps',
        'body.guidance_scale',
        'body.seed',
        'body.output_format',
        'body.priority',
        'body.metadata',
        'body.callback_url',
        'body.colour',
        'body.n',
      ].sort(),
    );
    for (const unknown of ['colour', 'n']) {
      expect(body.detail.find((d) => d.loc.join('.') === `body.${unknown}`)).toMatchObject({
        type: 'extra_forbidden',
      });
    }
  });

  it.each([
    ['an array', []],
    ['a string', 'a lighthouse'],
    ['null', null],
  ])('refuses a body that is %s', async (_label, body) => {
    const res = await request(api.server)
      .post(GENERATE)
      .set('X-API-Key', key)
      .set('Content-Type', 'application/json')
      .send(JSON.stringify(body));
    expect([400, 422]).toContain(res.status);
    expect(['MALFORMED_REQUEST', 'INVALID_PARAMETERS']).toContain(res.body.error_code);
  });

  it('refuses a body that is not JSON with 400', async () => {
    const res = await request(api.server)
      .post(GENERATE)
      .set('X-API-Key', key)
      .set('Content-Type', 'application/json')
      .send('{"prompt": ');
    expectError(res, 'MALFORMED_REQUEST');
  });
});
