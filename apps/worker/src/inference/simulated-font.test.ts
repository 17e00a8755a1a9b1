import { type Canvas, drawCaption, printable, wrap } from './simulated-font';

const blank = (width: number, height: number): Canvas => ({
  data: Buffer.alloc(width * height * 3, 200),
  width,
  height,
  channels: 3,
});

describe('the caption font', () => {
  it('draws upper case, and ? for characters it has no glyph for', () => {
    expect(printable('Maya Lin — 42%')).toBe('MAYA LIN ? 42?');
  });

  it('wraps words into lines of the columns available, cutting words longer than a line', () => {
    expect(wrap('standing on a pier at night', 10)).toEqual(['standing', 'on a pier', 'at night']);
    expect(wrap('supercalifragilistic x', 5)).toEqual(['super', 'x']);
  });

  it('scales glyphs with the image so they keep about 9 px in a 256 px thumbnail', () => {
    expect(drawCaption(blank(1024, 1024), ['x']).scale).toBe(6);
    expect(drawCaption(blank(832, 1248), ['x']).scale).toBe(7);
    expect(drawCaption(blank(64, 64), ['x']).scale).toBe(1);
  });

  it('never covers more than 40 % of a small image', () => {
    const caption = drawCaption(blank(64, 64), ['generate', 'seed 4294967295', 'a long label of many words']);
    expect(caption.height).toBeLessThanOrEqual(64 * 0.4);
    expect(caption.lines).toEqual(['generate', 'seed']);
  });
});
