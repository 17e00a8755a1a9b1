import { testLogger } from '@castforge/testkit';
import { EXAMPLES_DIR } from '@castforge/testkit/comfyui-kit';
import { startComfyStub } from '@castforge/testkit/comfyui-stub';
import { loadConfig } from '../config';
import { createBackend } from './registry';

const logger = testLogger('registry.test');

describe('the backend registry', () => {
  it('builds the ComfyUI backend from its settings, with the proxy header on every request', async () => {
    const stub = await startComfyStub({ requireHeader: { name: 'Authorization', value: 'Bearer s3cret' } });
    try {
      const config = loadConfig({
        INFERENCE_BACKEND: 'comfyui',
        INFERENCE_URLS: stub.url,
        COMFYUI_WORKFLOWS_DIR: EXAMPLES_DIR,
        INFERENCE_AUTH: 'user:pw',
        INFERENCE_AUTH_HEADER: 'Authorization: Bearer s3cret',
      });

      const backend = createBackend(config, logger);
      await backend.init!(config.INFERENCE_URLS.map((url, index) => ({ url, index })));

      expect(backend.name).toBe('comfyui');
      expect([...backend.operations].sort()).toEqual(['generate', 'lock']);
      expect(stub.requests.at(-1)!.headers.authorization).toBe('Bearer s3cret');
    } finally {
      await stub.close();
    }
  });

  it('a comfyui configuration without servers or templates fails start-up naming both', () => {
    expect(() => loadConfig({ INFERENCE_BACKEND: 'comfyui', INFERENCE_AUTH_HEADER: 'no colon' })).toThrow(
      /INFERENCE_AUTH_HEADER: must be "Header-Name: value"[\s\S]*INFERENCE_URLS: is required for the a1111 and comfyui backends[\s\S]*COMFYUI_WORKFLOWS_DIR: is required for the comfyui backend/,
    );
  });

  it('still builds the simulated and a1111 backends', () => {
    expect(createBackend(loadConfig({}), logger).name).toBe('simulated');
    expect(
      createBackend(loadConfig({ INFERENCE_BACKEND: 'a1111', INFERENCE_URLS: 'http://gpu:7860' }), logger)
        .name,
    ).toBe('a1111');
  });
});
