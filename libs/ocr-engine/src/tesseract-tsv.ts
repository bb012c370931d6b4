/** Pixel box of a recognised element, in Tesseract's terms (origin top left). */
export interface BoundingBox {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

export interface OcrPage {
  readonly page: number;
  readonly width: number;
  readonly height: number;
}

export interface OcrLine {
  readonly page: number;
  readonly text: string;
  readonly bbox: BoundingBox;
  /** Mean of its words' confidences, 0..1. */
  readonly confidence: number;
}

export interface OcrWord {
  readonly text: string;
  readonly bbox: BoundingBox;
  /** Tesseract's word confidence, 0..1. */
  readonly confidence: number;
  /** Index into `lines`. */
  readonly line: number;
}

export interface OcrLayout {
  readonly pages: OcrPage[];
  readonly lines: OcrLine[];
  readonly words: OcrWord[];
}

// Han, kana, CJK punctuation and full-width forms: written without spaces between words.
const CJK = /[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]/u;

/** Words of one line as text: a space between words, none between two CJK neighbours. */
export function joinWords(words: readonly string[]): string {
  let text = '';
  for (const word of words) {
    if (text !== '' && !(CJK.test(text.slice(-1)) && CJK.test(word[0]))) text += ' ';
    text += word;
  }
  return text;
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;

/** Tesseract's TSV output (level, page, block, paragraph, line, word, box, conf, text) as pages, lines and words. */
export function parseTesseractTsv(tsv: string): OcrLayout {
  const pages: OcrPage[] = [];
  const lines: OcrLine[] = [];
  const words: OcrWord[] = [];
  let current: { page: number; bbox: BoundingBox; words: OcrWord[] } | undefined;
  const flush = () => {
    if (current && current.words.length > 0) {
      const confidence = current.words.reduce((sum, w) => sum + w.confidence, 0) / current.words.length;
      lines.push({
        page: current.page,
        text: joinWords(current.words.map((w) => w.text)),
        bbox: current.bbox,
        confidence: round3(confidence),
      });
      words.push(...current.words);
    }
    current = undefined;
  };
  for (const row of tsv.split('\n')) {
    const cells = row.replace(/\r$/, '').split('\t');
    if (cells.length < 12 || !/^\d+$/.test(cells[0])) continue; // header and blank lines
    const [level, page, , , , , left, top, width, height] = cells.slice(0, 10).map(Number);
    const conf = Number(cells[10]);
    const text = cells.slice(11).join('\t').trim();
    const bbox = { left, top, width, height };
    if (level === 1) {
      flush();
      pages.push({ page, width, height });
    } else if (level === 4) {
      flush();
      current = { page, bbox, words: [] };
    } else if (level === 5 && current && text !== '') {
      current.words.push({ text, bbox, confidence: round3(Math.max(0, conf) / 100), line: lines.length });
    } else if (level < 4) {
      flush();
    }
  }
  flush();
  return { pages, lines, words };
}
