/**
 * A 5×7 bitmap font for the simulated backend's captions. Built in because a worker may run where no font
 * is installed (a slim container), and text rendered through a system font would differ from host to host,
 * which would break "same inputs, same bytes". Upper case only; anything without a glyph draws as `?`.
 */
const GLYPHS: Record<string, string> = {
  A: '.###. #...# #...# ##### #...# #...# #...#',
  B: '####. #...# #...# ####. #...# #...# ####.',
  C: '.###. #...# #.... #.... #.... #...# .###.',
  D: '####. #...# #...# #...# #...# #...# ####.',
  E: '##### #.... #.... ####. #.... #.... #####',
  F: '##### #.... #.... ####. #.... #.... #....',
  G: '.###. #...# #.... #.### #...# #...# .####',
  H: '#...# #...# #...# ##### #...# #...# #...#',
  I: '.###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.',
  J: '..### ...#. ...#. ...#. ...#. #..#. .##..',
  K: '#...# #..#. #.#.. ##... #.#.. #..#. #...#',
  L: '#.... #.... #.... #.... #.... #.... #####',
  M: '#...# ##.## #.#.# #.#.# #...# #...# #...#',
  N: '#...# #...# ##..# #.#.# #..## #...# #...#',
  O: '.###. #...# #...# #...# #...# #...# .###.',
  P: '####. #...# #...# ####. #.... #.... #....',
  Q: '.###. #...# #...# #...# #.#.# #..#. .##.#',
  R: '####. #...# #...# ####. #.#.. #..#. #...#',
  S: '.#### #.... #.... .###. ....# ....# ####.',
  T: '##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..',
  U: '#...# #...# #...# #...# #...# #...# .###.',
  V: '#...# #...# #...# #...# #...# .#.#. ..#..',
  W: '#...# #...# #...# #.#.# #.#.# #.#.# .#.#.',
  X: '#...# #...# .#.#. ..#.. .#.#. #...# #...#',
  Y: '#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..',
  Z: '##### ....# ...#. ..#.. .#... #.... #####',
  '0': '.###. #...# #..## #.#.# ##..# #...# .###.',
  '1': '..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.',
  '2': '.###. #...# ....# ...#. ..#.. .#... #####',
  '3': '##### ...#. ..#.. ...#. ....# #...# .###.',
  '4': '...#. ..##. .#.#. #..#. ##### ...#. ...#.',
  '5': '##### #.... ####. ....# ....# #...# .###.',
  '6': '..##. .#... #.... ####. #...# #...# .###.',
  '7': '##### ....# ...#. ..#.. .#... .#... .#...',
  '8': '.###. #...# #...# .###. #...# #...# .###.',
  '9': '.###. #...# #...# .#### ....# ...#. .##..',
  ' ': '..... ..... ..... ..... ..... ..... .....',
  '-': '..... ..... ..... ##### ..... ..... .....',
  '.': '..... ..... ..... ..... ..... .##.. .##..',
  ',': '..... ..... ..... ..... .##.. ..#.. .#...',
  ':': '..... .##.. .##.. ..... .##.. .##.. .....',
  '/': '..... ....# ...#. ..#.. .#... #.... .....',
  '#': '.#.#. .#.#. ##### .#.#. ##### .#.#. .#.#.',
  "'": '..#.. ..#.. .#... ..... ..... ..... .....',
  '(': '...#. ..#.. .#... .#... .#... ..#.. ...#.',
  ')': '.#... ..#.. ...#. ...#. ...#. ..#.. .#...',
  '?': '.###. #...# ....# ...#. ..#.. ..... ..#..',
  '!': '..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#..',
  '+': '..... ..#.. ..#.. ##### ..#.. ..#.. .....',
  '=': '..... ..... ##### ..... ##### ..... .....',
  _: '..... ..... ..... ..... ..... ..... #####',
};

export const GLYPH_WIDTH = 5;
export const GLYPH_HEIGHT = 7;
/** One column and one row of space around each glyph. */
export const CELL_WIDTH = GLYPH_WIDTH + 1;
export const CELL_HEIGHT = GLYPH_HEIGHT + 1;

const BITMAPS = new Map(
  Object.entries(GLYPHS).map(([char, rows]) => [
    char,
    rows.split(' ').map((row) => [...row].map((c) => c === '#')),
  ]),
);

/** A glyph's pixels, row by row (true = ink); `?`'s for a character without a glyph. */
export const bitmapOf = (char: string): readonly (readonly boolean[])[] =>
  BITMAPS.get(char) ?? BITMAPS.get('?')!;
/** Every character with a glyph. */
export const FONT_CHARS: readonly string[] = Object.keys(GLYPHS);

/** The characters drawn for `text`: upper-cased, unknown ones as `?`. */
export const printable = (text: string) =>
  [...text.toUpperCase()].map((char) => (BITMAPS.has(char) ? char : '?')).join('');

export interface Canvas {
  data: Buffer;
  width: number;
  height: number;
  channels: 3 | 4;
}

/** Draws `text` with its top-left corner at (x, y), each font pixel a `scale`×`scale` square of `rgb`. */
export function drawText(canvas: Canvas, text: string, x: number, y: number, scale: number, rgb: number[]) {
  [...printable(text)].forEach((char, i) => {
    const bitmap = BITMAPS.get(char)!;
    const left = x + i * CELL_WIDTH * scale;
    bitmap.forEach((row, gy) =>
      row.forEach((on, gx) => {
        if (on) fillRect(canvas, left + gx * scale, y + gy * scale, scale, scale, rgb, 1);
      }),
    );
  });
}

/** Blends `rgb` over a rectangle at `opacity` (0–1), clipped to the canvas; alpha is made opaque there. */
export function fillRect(
  canvas: Canvas,
  x: number,
  y: number,
  w: number,
  h: number,
  rgb: number[],
  opacity: number,
) {
  const { data, width, height, channels } = canvas;
  for (let py = Math.max(0, y); py < Math.min(height, y + h); py++) {
    for (let px = Math.max(0, x); px < Math.min(width, x + w); px++) {
      const at = (py * width + px) * channels;
      for (let c = 0; c < 3; c++)
        data[at + c] = Math.round(data[at + c]! * (1 - opacity) + rgb[c]! * opacity);
      if (channels === 4)
        data[at + 3] = Math.max(data[at + 3]!, Math.round(255 * Math.min(1, opacity + 0.35)));
    }
  }
}

/** Words wrapped into lines of at most `columns` characters; longer words are cut. */
export function wrap(text: string, columns: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const piece = word.slice(0, columns);
    if (!line) line = piece;
    else if (line.length + 1 + piece.length <= columns) line += ` ${piece}`;
    else {
      lines.push(line);
      line = piece;
    }
  }
  if (line) lines.push(line);
  return lines;
}

/**
 * A caption band across the top of the canvas (the bottom corners are where logos go): `lines` in white on
 * a translucent dark band. The font scale keeps glyphs about 9 px tall when the image is shown as a 256 px
 * thumbnail (longer side), so a contact sheet of results stays readable; a line that does not fit is
 * wrapped, and at most `maxLines` show.
 */
export function drawCaption(canvas: Canvas, lines: string[], maxLines = 5) {
  const scale = Math.max(1, Math.ceil(Math.max(canvas.width, canvas.height) / 200));
  const pad = 2 * scale;
  const columns = Math.max(1, Math.floor((canvas.width - 2 * pad) / (CELL_WIDTH * scale)));
  // On a small image the band would hide the picture: it takes at most 40 % of the height.
  const fitting = Math.max(1, Math.floor((canvas.height * 0.4 - 2 * pad) / (CELL_HEIGHT * scale)));
  const shown = lines.flatMap((line) => wrap(line, columns)).slice(0, Math.min(maxLines, fitting));
  const height = Math.min(canvas.height, shown.length * CELL_HEIGHT * scale + 2 * pad);
  fillRect(canvas, 0, 0, canvas.width, height, [0, 0, 0], 0.62);
  shown.forEach((line, i) =>
    drawText(canvas, line, pad, pad + i * CELL_HEIGHT * scale, scale, [255, 255, 255]),
  );
  return { scale, pad, lines: shown, height };
}
