import { CampaignCreate, CampaignOperation, campaignJobRequest, rosterEntrySchemaFor } from './campaigns';
import { buildOpenApiDocument } from './openapi';
import { operationRequests } from './identity';
import { issuesToDetail } from './validation';
import { IMG, IMG2, sdkBodies } from './__tests__/sdk-bodies';

const P1 = 'prof_0000000000000001';
const P2 = 'prof_0000000000000002';

const detailOf = (body: unknown) => {
  const result = CampaignCreate.safeParse(body, { reportInput: true });
  if (result.success) throw new Error(`expected ${JSON.stringify(body)} to be refused`);
  return issuesToDetail(result.error.issues, 'body');
};
const locs = (body: unknown) => detailOf(body).map((d) => d.loc.join('.'));

/** An SDK body without the fields a campaign keeps elsewhere: its images (roster) and per-job fields. */
const sceneOf = (operation: CampaignOperation) => {
  const drop = new Set<string>([...operationRequests[operation].images, 'profile_id', 'callback_url']);
  const body = sdkBodies[operation].at(-1)!;
  return Object.fromEntries(Object.entries(body).filter(([key]) => !drop.has(key)));
};
const rosterOf = (operation: CampaignOperation, ...ids: string[]) => {
  const body = sdkBodies[operation].at(-1)!;
  const images = Object.fromEntries(operationRequests[operation].images.map((f) => [f, body[f] ?? IMG]));
  return ids.map((profile_id) => ({ profile_id, ...images }));
};

describe('CampaignCreate', () => {
  describe('generate (the shape campaigns had before operations)', () => {
    it('still accepts profile_ids and scenes, and runs generate', () => {
      const parsed = CampaignCreate.parse({
        name: 'c',
        profile_ids: [P1, P2],
        scenes: [{ prompt: 'a beach' }],
      });
      expect(parsed).toMatchObject({
        operation: 'generate',
        profile_ids: [P1, P2],
        variants: 1,
        priority: 0,
      });
      expect(parsed.roster).toBeUndefined();
    });

    it('accepts enhance_prompt, logo_url and override_profile in a scene', () => {
      const scene = {
        prompt: 'x',
        enhance_prompt: true,
        logo_url: IMG2,
        override_profile: ['width'],
        width: 512,
      };
      const parsed = CampaignCreate.parse({ name: 'c', profile_ids: [P1], scenes: [scene] });
      expect(parsed.scenes[0]).toEqual(scene);
    });

    it('stores only what a scene sent (defaults apply when each job is built)', () => {
      const parsed = CampaignCreate.parse({ name: 'c', profile_ids: [P1], scenes: [{ prompt: 'x' }] });
      expect(parsed.scenes[0]).toEqual({ prompt: 'x' });
      expect(campaignJobRequest('generate', parsed.scenes[0]!, { profile_id: P1 })).toMatchObject({
        prompt: 'x',
        seed: -1,
        enhance_prompt: false,
        override_profile: [],
        profile_id: P1,
      });
    });

    it('refuses a roster: generate takes no input image', () => {
      expect(detailOf({ name: 'c', roster: [{ profile_id: P1 }], scenes: [{ prompt: 'x' }] })).toEqual([
        {
          loc: ['body', 'roster'],
          msg: 'operation generate takes no input image: give profile_ids instead of a roster',
          type: 'profile_ids_required',
        },
      ]);
    });

    it('still refuses a repeated profile id and an unknown scene field', () => {
      expect(locs({ name: 'c', profile_ids: [P1, P1], scenes: [{ prompt: 'x' }] })).toEqual([
        'body.profile_ids.1',
      ]);
      expect(locs({ name: 'c', profile_ids: [P1], scenes: [{ prompt: 'x', colour: 'red' }] })).toEqual([
        'body.scenes.0.colour',
      ]);
    });
  });

  describe.each(CampaignOperation.options.filter((op) => operationRequests[op].requiredImages.length))(
    '%s (an operation with input images)',
    (operation) => {
      it("accepts a roster carrying the operation's images, with the SDK's fields in the scenes", () => {
        const body = {
          name: 'c',
          operation,
          roster: rosterOf(operation, P1, P2),
          scenes: [sceneOf(operation)],
        };
        const parsed = CampaignCreate.parse(body);
        expect(parsed.profile_ids).toEqual([P1, P2]);
        expect(parsed.roster).toEqual(body.roster);
      });

      it('builds each job as the operation would parse it alone', () => {
        const parsed = CampaignCreate.parse({
          name: 'c',
          operation,
          roster: rosterOf(operation, P1),
          scenes: [{ ...sceneOf(operation), name: 'shot-1' }],
        });
        const request = campaignJobRequest(operation, parsed.scenes[0]!, parsed.roster![0]!);
        expect(operationRequests[operation].request.safeParse(request).success).toBe(true);
        expect(request).toMatchObject({ profile_id: P1 });
        expect(request).not.toHaveProperty('name');
      });

      it('refuses profile_ids, saying the roster it needs', () => {
        const detail = detailOf({ name: 'c', operation, profile_ids: [P1], scenes: [sceneOf(operation)] });
        expect(detail).toEqual([
          {
            loc: ['body', 'profile_ids'],
            msg: expect.stringContaining(`operation ${operation} takes a roster of {profile_id, `),
            type: 'roster_required',
          },
        ]);
      });

      it('refuses a roster entry without each required image, naming the entry and the field', () => {
        for (const field of operationRequests[operation].requiredImages) {
          const [entry] = rosterOf(operation, P1);
          delete (entry as Record<string, unknown>)[field];
          expect(detailOf({ name: 'c', operation, roster: [entry], scenes: [sceneOf(operation)] })).toEqual([
            { loc: ['body', 'roster', 0, field], msg: 'is required', type: 'missing' },
          ]);
        }
      });
    },
  );

  it('refuses a roster image field the operation does not take, and a scene field of another operation', () => {
    const body = {
      name: 'c',
      operation: 'lock',
      roster: [{ profile_id: P1, input_image: IMG, source: IMG2 }],
      scenes: [{ prompt: 'x', upscale: 2 }],
    };
    expect(detailOf(body)).toEqual([
      { loc: ['body', 'roster', 0, 'source'], msg: 'unknown field', type: 'extra_forbidden' },
      { loc: ['body', 'scenes', 0, 'upscale'], msg: 'unknown field', type: 'extra_forbidden' },
    ]);
  });

  it("checks each scene against the operation: lock needs a prompt, faceswap's upscale is 1–4", () => {
    expect(detailOf({ name: 'c', operation: 'lock', roster: rosterOf('lock', P1), scenes: [{}] })).toEqual([
      { loc: ['body', 'scenes', 0, 'prompt'], msg: 'is required', type: 'missing' },
    ]);
    const faceswap = { name: 'c', operation: 'faceswap', roster: rosterOf('faceswap', P1) };
    expect(locs({ ...faceswap, scenes: [{ upscale: 9 }, { prompt: 'x' }] })).toEqual([
      'body.scenes.0.upscale',
      'body.scenes.1.prompt',
    ]);
  });

  it('refuses both profile_ids and a roster, and neither', () => {
    const scenes = [{ prompt: 'x' }];
    expect(
      detailOf({ name: 'c', operation: 'lock', profile_ids: [P1], roster: rosterOf('lock', P1), scenes }),
    ).toEqual([
      { loc: ['body', 'roster'], msg: 'give either profile_ids or roster, not both', type: 'conflict' },
    ]);
    expect(detailOf({ name: 'c', operation: 'lock', scenes })).toEqual([
      {
        loc: ['body', 'roster'],
        msg: 'is required: operation lock takes a roster of {profile_id, input_image}',
        type: 'missing',
      },
    ]);
    expect(detailOf({ name: 'c', scenes })).toEqual([
      { loc: ['body', 'profile_ids'], msg: 'is required (1–1000 profile ids)', type: 'missing' },
    ]);
  });

  it('refuses a profile repeated in the roster', () => {
    expect(
      locs({ name: 'c', operation: 'lock', roster: rosterOf('lock', P1, P2, P1), scenes: [{ prompt: 'x' }] }),
    ).toEqual(['body.roster.2.profile_id']);
  });

  it('lets edit (whose image is optional) take profile_ids or a roster of image lists', () => {
    const scenes = [{ prompt: 'make it red' }];
    expect(
      CampaignCreate.safeParse({ name: 'c', operation: 'edit', profile_ids: [P1], scenes }).success,
    ).toBe(true);
    const roster = [{ profile_id: P1, input_image: [IMG, IMG2] }];
    expect(CampaignCreate.parse({ name: 'c', operation: 'edit', roster, scenes }).profile_ids).toEqual([P1]);
  });

  it('refuses segment, which applies no profile', () => {
    expect(locs({ name: 'c', operation: 'segment', roster: [{ profile_id: P1 }], scenes: [{}] })).toEqual([
      'body.operation',
    ]);
  });

  it('has a roster entry shape for every operation that takes images', () => {
    for (const operation of CampaignOperation.options) {
      const keys = Object.keys(rosterEntrySchemaFor(operation).shape);
      expect(keys).toEqual(['profile_id', ...operationRequests[operation].images]);
    }
  });
});

describe('the OpenAPI document', () => {
  type Schema = { properties?: Record<string, Schema>; required?: string[]; items?: Schema };
  // Request bodies are components of their own, in their input form, with their parts inlined (openapi.ts).
  const body = (
    buildOpenApiDocument({ serverUrl: 'http://localhost', version: 'test' }) as {
      components: { requestBodies: Record<string, { content: Record<string, { schema: Schema }> }> };
    }
  ).components.requestBodies.CampaignCreate!.content['application/json']!.schema;

  it('describes the campaign operation, the roster and every operation field a scene may carry', () => {
    expect(Object.keys(body.properties!)).toEqual(
      expect.arrayContaining(['operation', 'profile_ids', 'roster', 'scenes']),
    );
    expect(body.required?.sort()).toEqual(['name', 'scenes']);
    const scene = body.properties!.scenes!.items!;
    expect(Object.keys(scene.properties!)).toEqual(
      expect.arrayContaining([
        'prompt',
        'enhance_prompt',
        'logo_url',
        'override_profile',
        'upscale',
        'gender',
      ]),
    );
    expect(scene.required ?? []).toEqual([]);
    expect(Object.keys(body.properties!.roster!.items!.properties!)).toEqual(
      expect.arrayContaining(['profile_id', 'input_image', 'source', 'target', 'input_face', 'person_image']),
    );
  });
});
