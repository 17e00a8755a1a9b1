import { type OperationName } from '@castforge/schemas';
import sharp from 'sharp';
import { type LogoCorner, compositeLogo } from '../results/logo';
import { type InferenceRequest, type InputImage, InferenceError } from './inference-backend';
import { type Canvas } from './simulated-font';
import { capped, cover, ellipse, field, over, raw, toCanvas, translucent } from './simulated-pixels';

/**
 * What the simulated backend draws for each operation: simple, deterministic image operations that visibly
 * use the job's inputs, so a test (or a person looking at a contact sheet) can tell that the right images
 * went to the right operation. Every function returns raw pixels; the same request gives the same pixels.
 */
export type Render = (request: InferenceRequest, digest: Buffer) => Promise<Canvas>;

const num = (value: unknown, fallback: number) => (typeof value === 'number' ? value : fallback);

function input(request: InferenceRequest, ...fields: string[]): InputImage {
  for (const field of fields) {
    const image = request.images[field];
    if (image) return image;
  }
  throw new InferenceError('INPUT_INVALID', `${request.operation} needs the input image ${fields[0]}`);
}

/** A face (the centre of `face`) in a soft ellipse over a generated scene. */
async function faceInScene(
  request: InferenceRequest,
  digest: Buffer,
  face: InputImage,
  size: number,
  cy: number,
) {
  const scene = await field(digest, request.width, request.height);
  const side = Math.max(8, Math.round(Math.min(request.width, request.height) * size));
  const portrait = ellipse(await cover(face, side, Math.round(side * 1.2)), 0.25);
  const left = Math.round((request.width - portrait.width) / 2);
  const top = Math.max(0, Math.round(request.height * cy - portrait.height / 2));
  return over(scene, [{ canvas: portrait, left, top }]);
}

/** The subject of `image` (a centred ellipse) over `background`, both width×height. */
async function subjectOver(image: InputImage, background: Canvas): Promise<Canvas> {
  const { width, height } = background;
  const subject = ellipse(await cover(image, Math.round(width * 0.6), Math.round(height * 0.85)), 0.15);
  return over(background, [
    { canvas: subject, left: Math.round((width - subject.width) / 2), top: height - subject.height },
  ]);
}

async function dominant(image: InputImage): Promise<number[]> {
  const { dominant: d } = await sharp(image.data).stats();
  return [d.r, d.g, d.b];
}

export const renders: Record<OperationName, Render> = {
  generate: (request, digest) => field(digest, request.width, request.height),

  lock: (request, digest) => faceInScene(request, digest, input(request, 'input_image'), 0.42, 0.5),

  instamodel: (request, digest) => faceInScene(request, digest, input(request, 'input_face'), 0.3, 0.42),

  // The input's background stays; a generated figure stands in the middle.
  replace: async (request, digest) => {
    const scene = await cover(input(request, 'input_image'), request.width, request.height);
    const figure = ellipse(
      await field(digest, Math.round(request.width * 0.36), Math.round(request.height * 0.8)),
      0.2,
    );
    return over(scene, [
      {
        canvas: figure,
        left: Math.round((request.width - figure.width) / 2),
        top: request.height - figure.height,
      },
    ]);
  },

  // The target, upscaled, with the source's face in a soft ellipse where a face would be.
  faceswap: async (request) => {
    const target = input(request, 'target');
    const factor = Math.min(4, Math.max(1, num(request.options.upscale, 1.5)));
    const size = capped(Math.round(target.width * factor), Math.round(target.height * factor));
    const base = await cover(target, size.width, size.height);
    const side = Math.max(8, Math.round(Math.min(size.width, size.height) * 0.4));
    const feather = 0.1 + 0.3 * Math.min(1, Math.max(0, num(request.options.restore_weight, 0.5)));
    const face = ellipse(await cover(input(request, 'source'), side, Math.round(side * 1.2)), feather);
    return over(base, [
      {
        canvas: face,
        left: Math.round((size.width - face.width) / 2),
        top: Math.max(0, Math.round(size.height * 0.3 - face.height / 2)),
      },
    ]);
  },

  // The person, with the clothing blended over the torso.
  tryon: async (request) => {
    const person = await cover(input(request, 'person_image'), request.width, request.height);
    const torso = { width: Math.round(request.width * 0.56), height: Math.round(request.height * 0.48) };
    const clothing = ellipse(
      await cover(input(request, 'clothing_image'), torso.width, torso.height),
      0.2,
      0.8,
    );
    return over(person, [
      {
        canvas: clothing,
        left: Math.round((request.width - torso.width) / 2),
        top: Math.round(request.height * 0.34),
      },
    ]);
  },

  // The input tinted by the generated colours; without an input, a generated picture.
  edit: async (request, digest) => {
    const generated = await field(digest, request.width, request.height);
    const image = request.images.input_image ?? request.images['input_image.0'];
    if (!image) return generated;
    const tint = translucent(generated, 0.45);
    return over(await cover(image, request.width, request.height), [{ canvas: tint, left: 0, top: 0 }]);
  },

  'background-change': async (request, digest) => {
    const image = input(request, 'input_image');
    const size = capped(image.width, image.height);
    return subjectOver(image, await field(digest, size.width, size.height));
  },

  // The subject kept, the rest transparent (or the `recolor` colour).
  'background-remove': async (request) => {
    const image = input(request, 'input_image');
    const size = capped(image.width, image.height);
    const clear: Canvas = { data: Buffer.alloc(size.width * size.height * 4), ...size, channels: 4 };
    const recolor =
      typeof request.options.recolor === 'string' ? hexColour(request.options.recolor) : undefined;
    if (recolor) {
      for (let i = 0; i < size.width * size.height; i++) clear.data.set([...recolor, 255], i * 4);
    }
    return subjectOver(image, clear);
  },

  'branding-logo': async (request) => {
    const image = input(request, 'input_image');
    const size = capped(image.width, image.height);
    const base = await cover(image, size.width, size.height);
    const corner = (request.options.position as LogoCorner | undefined) ?? 'bottom_right';
    const stamped = await compositeLogo(
      { image: base.data, ...raw(base), seed: 0 },
      input(request, 'logo_url'),
      corner,
    );
    return { data: stamped.image, ...stamped.raw! };
  },

  // A background in the photo's palette (similar, complementary or radical), the subject over it, the logo.
  'branding-template': async (request, digest) => {
    const image = input(request, 'input_image');
    const size = capped(image.width, image.height);
    const [r, g, b] = await dominant(image);
    const mode = request.options.palette_mode;
    const palette =
      mode === 'complementary'
        ? [255 - r!, 255 - g!, 255 - b!]
        : mode === 'radical'
          ? [b!, r!, g!]
          : [r!, g!, b!];
    const composed = await subjectOver(image, await field(digest, size.width, size.height, palette));
    const logo = request.images.logo_url;
    if (!logo) return composed;
    const corner = (request.options.position as LogoCorner | undefined) ?? 'bottom_right';
    const stamped = await compositeLogo({ image: composed.data, ...raw(composed), seed: 0 }, logo, corner);
    return { data: stamped.image, ...stamped.raw! };
  },

  upscale: async (request) => {
    const image = input(request, 'input_image');
    const factor = Math.min(4, Math.max(1, Math.round(num(request.options.scale, 4))));
    const size = capped(image.width * factor, image.height * factor);
    return toCanvas(
      await sharp(image.data)
        .resize(size.width, size.height, { kernel: 'lanczos3', fit: 'fill' })
        .sharpen()
        .removeAlpha()
        .raw()
        .toBuffer({ resolveWithObject: true }),
    );
  },

  // Colour-coded bands over the subject: hair, face, upper clothes, lower clothes, shoes.
  segment: async (request) => {
    const image = input(request, 'image_url');
    const size = capped(image.width, image.height);
    const base = await cover(image, size.width, size.height);
    const bands = [
      [0.0, 0.15, [250, 200, 0]],
      [0.15, 0.3, [255, 120, 150]],
      [0.3, 0.6, [0, 160, 255]],
      [0.6, 0.9, [40, 200, 90]],
      [0.9, 1.0, [160, 60, 220]],
    ] as const;
    const overlay: Canvas = { data: Buffer.alloc(size.width * size.height * 3), ...size, channels: 3 };
    for (let y = 0; y < size.height; y++) {
      const [, , colour] =
        bands.find(([from, to]) => y / size.height >= from && y / size.height < to) ?? bands[4];
      for (let x = 0; x < size.width; x++) overlay.data.set(colour, (y * size.width + x) * 3);
    }
    const subject = ellipse(overlay, 0.1, 0.45);
    return over(base, [{ canvas: subject, left: 0, top: 0 }]);
  },
};

function hexColour(hex: string): number[] | undefined {
  const digits = hex.replace(/^#/, '');
  const full = digits.length === 3 ? [...digits].map((d) => d + d).join('') : digits;
  if (!/^[0-9a-fA-F]{6}$/.test(full)) return undefined;
  return [0, 2, 4].map((i) => parseInt(full.slice(i, i + 2), 16));
}
