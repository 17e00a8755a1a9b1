/**
 * Where a missing node class usually comes from, so the start-up message says what to install rather than
 * only what is missing. Matched on the class name; first match wins.
 */
const packs: ReadonlyArray<[RegExp, string]> = [
  [
    /^SaveImageWebsocket$/,
    'core custom_nodes/websocket_image_save.py (not loaded with --disable-all-custom-nodes)',
  ],
  [/^ETN_/, 'Acly/comfyui-tooling-nodes'],
  [/InstantID|^FaceKeypointsPreprocessor$/, 'cubiq/ComfyUI_InstantID'],
  [/Pulid/i, 'cubiq/PuLID_ComfyUI'],
  [/^IPAdapter/, 'cubiq/ComfyUI_IPAdapter_plus'],
  [/^ReActor/, 'Gourieff/ComfyUI-ReActor'],
  [/^CatVTON/, 'chflame163/ComfyUI_CatVTON_Wrapper'],
  [/^(IDM-VTON|PipelineLoader)$/, 'TemryL/ComfyUI-IDM-VTON'],
];

export function nodePackOf(classType: string): string | undefined {
  return packs.find(([pattern]) => pattern.test(classType))?.[1];
}
