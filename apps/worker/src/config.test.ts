import { ConfigError } from '@castforge/core';
import { DEFAULT_A1111_CONTROLNET } from './inference/a1111-controlnet';
import { a1111ControlNetOf, inputFetcherOptionsOf, loadConfig, promptEnhancerOptionsOf } from './config';

describe('worker config: input images, the prompt enhancer and A1111 ControlNet names', () => {
  it('defaults to 20 MB inputs, no loopback, no prompt enhancer and the A1111 extension names', () => {
    const config = loadConfig({});
    expect(inputFetcherOptionsOf(config)).toEqual({
      allowLoopback: false,
      maxBytes: 20 * 1024 * 1024,
      timeoutMs: 15_000,
    });
    expect(promptEnhancerOptionsOf(config)).toEqual({
      url: undefined,
      model: undefined,
      apiKey: undefined,
      timeoutMs: 10_000,
    });
    expect(a1111ControlNetOf(config)).toEqual(DEFAULT_A1111_CONTROLNET);
  });

  it('reads every setting', () => {
    const config = loadConfig({
      INPUT_IMAGE_MAX_BYTES: '1048576',
      INPUT_IMAGE_TIMEOUT_MS: '2500',
      INPUT_ALLOW_LOOPBACK: 'true',
      PROMPT_ENHANCER_URL: 'http://ollama:11434',
      PROMPT_ENHANCER_MODEL: 'llama3.2',
      PROMPT_ENHANCER_API_KEY: 'sk-1',
      PROMPT_ENHANCER_TIMEOUT_MS: '3000',
      A1111_INSTANTID_EMBEDDING_MODULE: 'InsightFace (InstantID)',
    });
    expect(inputFetcherOptionsOf(config)).toEqual({
      allowLoopback: true,
      maxBytes: 1048576,
      timeoutMs: 2500,
    });
    expect(promptEnhancerOptionsOf(config)).toEqual({
      url: 'http://ollama:11434',
      model: 'llama3.2',
      apiKey: 'sk-1',
      timeoutMs: 3000,
    });
    expect(a1111ControlNetOf(config).instantidEmbeddingModule).toBe('InsightFace (InstantID)');
  });

  it('names every bad setting at once, including a prompt enhancer URL without a model', () => {
    let error: unknown;
    try {
      loadConfig({
        PROMPT_ENHANCER_URL: 'http://ollama:11434',
        INPUT_ALLOW_LOOPBACK: 'maybe',
        INPUT_IMAGE_MAX_BYTES: '10',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    expect(problems).toMatch(/PROMPT_ENHANCER_MODEL: is required with PROMPT_ENHANCER_URL/);
    expect(problems).toMatch(/INPUT_ALLOW_LOOPBACK/);
    expect(problems).toMatch(/INPUT_IMAGE_MAX_BYTES/);
  });
});
