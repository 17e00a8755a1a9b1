import { type ComfySocket, type SocketEvent, parseBinaryFrame } from './comfyui-socket';
import { type WatchState, watchPrompt } from './prompt-watch';

/** A socket we drive by hand: the watcher's only input. */
function fakeSocket() {
  const listeners = new Set<(event: SocketEvent) => void>();
  let close!: () => void;
  const closed = new Promise<void>((resolve) => (close = resolve));
  const socket: ComfySocket = {
    on(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    closed,
    close: () => {
      close();
      return closed;
    },
  };
  const send = (event: SocketEvent) => listeners.forEach((listener) => listener(event));
  return {
    socket,
    message: (type: string, data: Record<string, unknown>) => send({ kind: 'message', type, data }),
    frame: (bytes: Buffer) => send(parseBinaryFrame(bytes)!),
    drop: () => close(),
  };
}

const u32 = (value: number) => {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value);
  return buffer;
};
const legacyFrame = (image: string, format = 2) => Buffer.concat([u32(1), u32(format), Buffer.from(image)]);
const metadataFrame = (image: string, meta: Record<string, unknown>) => {
  const json = Buffer.from(JSON.stringify(meta));
  return Buffer.concat([u32(4), u32(json.length), json, Buffer.from(image)]);
};
const newState = (): WatchState => ({ promptId: 'p-1', outputNodeId: '9', progress: 0 });

describe('following a prompt on its socket', () => {
  it('takes a legacy frame only while the output node runs, so sampler previews are skipped', async () => {
    const { socket, message, frame } = fakeSocket();
    const state = newState();
    const watch = watchPrompt(socket, state, () => undefined);

    message('executing', { node: '3', prompt_id: 'p-1' });
    frame(legacyFrame('preview', 1));
    message('executing', { node: '9', prompt_id: 'p-1' });
    frame(legacyFrame('result'));
    frame(legacyFrame('second image of a batch'));
    message('execution_success', { prompt_id: 'p-1' });

    await expect(watch.outcome).resolves.toEqual({ kind: 'success' });
    expect(state.image).toEqual({ bytes: Buffer.from('result'), mimeType: 'image/png' });
  });

  it('takes a metadata frame by prompt and node, whatever runs; ignores other prompts’ endings', async () => {
    const { socket, message, frame } = fakeSocket();
    const state = newState();
    const watch = watchPrompt(socket, state, () => undefined);

    frame(metadataFrame('theirs', { prompt_id: 'p-2', node_id: '9', image_type: 'image/png' }));
    frame(metadataFrame('preview', { prompt_id: 'p-1', node_id: '3', image_type: 'image/jpeg' }));
    frame(
      metadataFrame('ours', {
        prompt_id: 'p-1',
        node_id: '9',
        display_node_id: '9',
        image_type: 'image/png',
      }),
    );
    message('execution_interrupted', { prompt_id: 'p-2', node_id: '3' });
    message('execution_error', { prompt_id: 'p-1', node_id: '3', exception_message: 'boom' });

    await expect(watch.outcome).resolves.toMatchObject({
      kind: 'error',
      data: { exception_message: 'boom' },
    });
    expect(state.image?.bytes.toString()).toBe('ours');
  });

  it('reports progress of the prompt’s nodes only ever upwards, below 1, and not the output node’s', () => {
    const { socket, message } = fakeSocket();
    const seen: number[] = [];
    watchPrompt(socket, newState(), (fraction) => seen.push(fraction));

    message('progress', { value: 5, max: 10, node: '3', prompt_id: 'p-1' });
    message('progress', { value: 2, max: 10, node: '12', prompt_id: 'p-1' });
    message('progress', { value: 10, max: 10, node: '3', prompt_id: 'p-1' });
    message('progress', { value: 0, max: 1, node: '9', prompt_id: 'p-1' });
    message('progress', { value: 8, max: 10, node: '3', prompt_id: 'p-2' });

    expect(seen).toEqual([0.5, 0.99]);
  });

  it('held until the prompt id is known: replays what came before, under the id the server answered', async () => {
    const { socket, message, frame, drop } = fakeSocket();
    const state = newState();
    const watch = watchPrompt(socket, state, () => undefined, { held: true });

    message('executing', { node: '9', prompt_id: 'server-chosen' });
    frame(legacyFrame('result'));
    message('execution_success', { prompt_id: 'server-chosen' });
    drop();
    state.promptId = 'server-chosen';
    watch.confirm();

    await expect(watch.outcome).resolves.toEqual({ kind: 'success' });
    expect(state.image?.bytes.toString()).toBe('result');
  });

  it('a socket that closes first ends the watch as dropped; servers without execution_success end on executing null', async () => {
    const dropped = fakeSocket();
    const old = fakeSocket();
    const dropWatch = watchPrompt(dropped.socket, newState(), () => undefined);
    const oldWatch = watchPrompt(old.socket, newState(), () => undefined);

    dropped.drop();
    old.message('executing', { node: null, prompt_id: 'p-1' });

    await expect(dropWatch.outcome).resolves.toEqual({ kind: 'dropped' });
    await expect(oldWatch.outcome).resolves.toEqual({ kind: 'success' });
  });
});

describe('following a prompt whose server names no running node', () => {
  it('takes the last legacy frame as the result when none could be attributed', async () => {
    const { socket, message, frame } = fakeSocket();
    const state = newState();
    const watch = watchPrompt(socket, state, () => undefined);

    frame(legacyFrame('preview', 1));
    frame(legacyFrame('result'));
    message('execution_success', { prompt_id: 'p-1' });

    await expect(watch.outcome).resolves.toEqual({ kind: 'success' });
    expect(state.image).toBeUndefined();
    expect(state.unattributed?.bytes.toString()).toBe('result');
  });
});
