import { joinWords, parseTesseractTsv } from './tesseract-tsv';

const tsv = (rows: (string | number)[][]) =>
  ['level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext', ...rows.map((r) => r.join('\t'))].join(
    '\n',
  );

describe('parseTesseractTsv', () => {
  it('groups words into lines with boxes and 0..1 confidences', () => {
    const layout = parseTesseractTsv(
      tsv([
        [1, 1, 0, 0, 0, 0, 0, 0, 786, 152, -1, ''],
        [2, 1, 1, 0, 0, 0, 0, 10, 783, 140, -1, ''],
        [3, 1, 1, 1, 0, 0, 0, 10, 783, 140, -1, ''],
        [4, 1, 1, 1, 1, 0, 0, 10, 783, 39, -1, ''],
        [5, 1, 1, 1, 1, 1, 0, 11, 63, 29, 96.5, 'The'],
        [5, 1, 1, 1, 1, 2, 77, 11, 91, 38, 95.5, 'quick'],
        [4, 1, 1, 1, 2, 0, 2, 52, 426, 43, -1, ''],
        [5, 1, 1, 1, 2, 1, 2, 52, 91, 35, 74, 'धर्मक्षेत्रे'],
        [5, 1, 1, 1, 2, 2, 103, 52, 97, 43, -1, ' '],
        [4, 1, 1, 1, 3, 0, 2, 100, 10, 10, -1, ''],
      ]),
    );
    expect(layout.pages).toEqual([{ page: 1, width: 786, height: 152 }]);
    expect(layout.lines).toEqual([
      { page: 1, text: 'The quick', bbox: { left: 0, top: 10, width: 783, height: 39 }, confidence: 0.96 },
      { page: 1, text: 'धर्मक्षेत्रे', bbox: { left: 2, top: 52, width: 426, height: 43 }, confidence: 0.74 },
    ]);
    expect(layout.words.map((w) => [w.text, w.line, w.confidence])).toEqual([
      ['The', 0, 0.965],
      ['quick', 0, 0.955],
      ['धर्मक्षेत्रे', 1, 0.74],
    ]);
  });

  it('reads several pages (multi-page TIFF)', () => {
    const layout = parseTesseractTsv(
      tsv([
        [1, 1, 0, 0, 0, 0, 0, 0, 100, 50, -1, ''],
        [4, 1, 1, 1, 1, 0, 0, 0, 50, 20, -1, ''],
        [5, 1, 1, 1, 1, 1, 0, 0, 50, 20, 90, 'one'],
        [1, 2, 0, 0, 0, 0, 0, 0, 100, 50, -1, ''],
        [4, 2, 1, 1, 1, 0, 0, 0, 50, 20, -1, ''],
        [5, 2, 1, 1, 1, 1, 0, 0, 50, 20, 80, 'two'],
      ]),
    );
    expect(layout.pages.map((p) => p.page)).toEqual([1, 2]);
    expect(layout.lines.map((l) => [l.page, l.text])).toEqual([
      [1, 'one'],
      [2, 'two'],
    ]);
  });
});

describe('joinWords', () => {
  it.each([
    [['The', 'quick'], 'The quick'],
    [['東京', '大', '学', 'の'], '東京大学の'],
    [['GPU', 'を', '使う'], 'GPU を使う'],
  ])('%j → %s', (words, text) => {
    expect(joinWords(words)).toBe(text);
  });
});
