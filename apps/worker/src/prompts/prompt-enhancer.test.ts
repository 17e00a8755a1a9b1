import { type OpenAiStub, startOpenAiStub } from '@castforge/testkit/openai-stub';
import { JobCancelledError } from '../inference/inference-backend';
import {
  ENHANCER_SYSTEM_PROMPT,
  MAX_ENHANCED_PROMPT_CHARS,
  chatCompletionsUrl,
  cleanAnswer,
  createPromptEnhancer,
} from './prompt-enhancer';

const stubs: OpenAiStub[] = [];
afterEach(async () => {
  await Promise.all(stubs.splice(0).map((stub) => stub.close()));
});
const openStub = async (options?: Parameters<typeof startOpenAiStub>[0]) => {
  const stub = await startOpenAiStub(options);
  stubs.push(stub);
  return stub;
};

describe('createPromptEnhancer', () => {
  it('sends the model, a system prompt and the prompt to /v1/chat/completions and returns the answer', async () => {
    const stub = await openStub();
    const enhancer = createPromptEnhancer({ url: stub.url, model: 'llama3.2', timeoutMs: 2000 });

    const result = await enhancer.enhance('a woman on a beach');

    expect(result).toEqual({
      prompt: 'a woman on a beach, golden hour light, shallow depth of field, 85mm lens, detailed textures',
    });
    expect(stub.requests).toHaveLength(1);
    expect(stub.requests[0]).toMatchObject({
      path: '/v1/chat/completions',
      headers: { 'content-type': 'application/json' },
      body: {
        model: 'llama3.2',
        stream: false,
        messages: [
          { role: 'system', content: ENHANCER_SYSTEM_PROMPT },
          { role: 'user', content: 'a woman on a beach' },
        ],
      },
    });
    expect(stub.requests[0]!.headers.authorization).toBeUndefined();
    expect(enhancer.configured).toBe(true);
  });

  it('sends PROMPT_ENHANCER_API_KEY as a bearer token, which the server checks', async () => {
    const stub = await openStub({ apiKey: 'sk-test-123' });
    const withKey = createPromptEnhancer({
      url: stub.url,
      model: 'gpt-4o-mini',
      apiKey: 'sk-test-123',
      timeoutMs: 2000,
    });
    const withoutKey = createPromptEnhancer({ url: stub.url, model: 'gpt-4o-mini', timeoutMs: 2000 });

    expect((await withKey.enhance('a fox')).warning).toBeUndefined();
    expect(stub.requests[0]!.headers.authorization).toBe('Bearer sk-test-123');
    expect(await withoutKey.enhance('a fox')).toEqual({
      prompt: 'a fox',
      warning:
        'enhance_prompt: the prompt enhancer answered 401: Incorrect API key provided; the prompt was used as given',
    });
  });

  it('when unconfigured, gives the prompt as given and a warning saying so, calling nothing', async () => {
    const enhancer = createPromptEnhancer({ timeoutMs: 2000 });
    expect(enhancer.configured).toBe(false);
    expect(await enhancer.enhance('a fox')).toEqual({
      prompt: 'a fox',
      warning:
        'enhance_prompt: no prompt enhancer is configured (PROMPT_ENHANCER_URL); the prompt was used as given',
    });
  });

  it.each([
    ['a 503', { status: 503 }, 'the prompt enhancer answered 503: scripted failure (503)'],
    ['a 500 without a JSON body', { status: 500, body: 'oops' }, 'the prompt enhancer answered 500'],
    ['bad JSON', { raw: '{"choices": [' }, 'the prompt enhancer answered with an unreadable body'],
    ['no choices', { raw: '{"choices": []}' }, 'the prompt enhancer answered with an unreadable body'],
    ['a null content', { content: null }, 'the prompt enhancer answered with an empty prompt'],
    ['an empty answer', { content: '  \n ' }, 'the prompt enhancer answered with an empty prompt'],
    [
      'only a think block',
      { content: '<think>hmm</think>' },
      'the prompt enhancer answered with an empty prompt',
    ],
  ] as const)('on %s, gives the prompt as given and a warning saying why', async (_label, step, why) => {
    const stub = await openStub();
    stub.script(step);
    const enhancer = createPromptEnhancer({ url: stub.url, model: 'm', timeoutMs: 2000 });

    expect(await enhancer.enhance('a fox')).toEqual({
      prompt: 'a fox',
      warning: `enhance_prompt: ${why}; the prompt was used as given`,
    });
  });

  it('gives up at the timeout and goes on with the prompt as given', async () => {
    const stub = await openStub();
    stub.script({ hang: true });
    const enhancer = createPromptEnhancer({ url: stub.url, model: 'm', timeoutMs: 150 });

    expect(await enhancer.enhance('a fox')).toEqual({
      prompt: 'a fox',
      warning:
        'enhance_prompt: the prompt enhancer did not answer within 150 ms; the prompt was used as given',
    });
  });

  it('says when the server cannot be reached', async () => {
    const stub = await openStub();
    const url = stub.url;
    await stub.close();
    stubs.length = 0;
    const result = await createPromptEnhancer({ url, model: 'm', timeoutMs: 2000 }).enhance('a fox');
    expect(result.warning).toBe(
      'enhance_prompt: the prompt enhancer could not be reached (ECONNREFUSED); the prompt was used as given',
    );
  });

  it('cuts an answer longer than 4000 characters at a phrase, with a warning', async () => {
    const stub = await openStub();
    const long = Array.from({ length: 600 }, (_, i) => `detail number ${i}`).join(', ');
    stub.script({ content: long });
    const result = await createPromptEnhancer({ url: stub.url, model: 'm', timeoutMs: 2000 }).enhance('x');

    expect(result.prompt.length).toBeLessThanOrEqual(MAX_ENHANCED_PROMPT_CHARS);
    expect(long.startsWith(result.prompt)).toBe(true);
    expect(result.prompt).toMatch(/detail number \d+$/);
    expect(result.warning).toBe('enhance_prompt: the enhanced prompt was cut to 4000 characters');
  });

  it('skips a blank prompt without calling the server', async () => {
    const stub = await openStub();
    const result = await createPromptEnhancer({ url: stub.url, model: 'm', timeoutMs: 2000 }).enhance('  ');
    expect(result).toEqual({
      prompt: '  ',
      warning: 'enhance_prompt: the request has no prompt to enhance; the prompt was used as given',
    });
    expect(stub.requests).toHaveLength(0);
  });

  it('rejects with the abort when the job is cancelled meanwhile', async () => {
    const stub = await openStub();
    stub.script({ hang: true });
    const controller = new AbortController();
    const pending = createPromptEnhancer({ url: stub.url, model: 'm', timeoutMs: 5000 })
      .enhance('a fox', controller.signal)
      .catch((err: unknown) => err);
    controller.abort(new JobCancelledError('cancelled'));
    await expect(pending).resolves.toMatchObject({ code: 'CANCELLED' });
  });
});

describe('chatCompletionsUrl', () => {
  it.each([
    ['http://ollama:11434', 'http://ollama:11434/v1/chat/completions'],
    ['http://ollama:11434/', 'http://ollama:11434/v1/chat/completions'],
    ['http://ollama:11434/v1', 'http://ollama:11434/v1/chat/completions'],
    ['https://api.openai.com/v1/', 'https://api.openai.com/v1/chat/completions'],
    ['https://gw.example.com/llm', 'https://gw.example.com/llm/v1/chat/completions'],
    [
      'https://gw.example.com/openai/deployments/x/chat/completions?api-version=2024-10-21',
      'https://gw.example.com/openai/deployments/x/chat/completions?api-version=2024-10-21',
    ],
  ])('joins %s as %s', (base, expected) => {
    expect(chatCompletionsUrl(base)).toBe(expected);
  });
});

describe('cleanAnswer', () => {
  it.each([
    ['"a fox in snow, soft light"', 'a fox in snow, soft light'],
    ['Prompt: a fox in snow', 'a fox in snow'],
    ['<think>the user wants a fox</think>\n\na fox in snow', 'a fox in snow'],
    ['a fox,\nin snow,\n  soft light', 'a fox, in snow, soft light'],
    ['`a fox`', 'a fox'],
  ])('reads %j as %j', (answer, expected) => {
    expect(cleanAnswer(answer)).toBe(expected);
  });
});
