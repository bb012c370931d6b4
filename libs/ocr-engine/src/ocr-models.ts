/** A served OCR model: an id clients name and the Tesseract languages it reads with by default. */
export interface OcrModel {
  readonly id: string;
  readonly languages: readonly string[];
}

/** What `maas ocr-engine` serves without `--model`: Latin + Devanagari (English, Hindi, Sanskrit) and Japanese. */
export const DEFAULT_OCR_MODELS = ['tesseract/eng+Devanagari', 'tesseract/jpn'] as const;

// Tesseract's traineddata names: ISO 639-2 codes, script models (`Devanagari`), variants (`chi_sim`).
const LANGUAGE = /^[A-Za-z][A-Za-z0-9_]*(\/[A-Za-z][A-Za-z0-9_]*)?$/;

/** ISO 639-1 codes clients tend to send, mapped to Tesseract's ISO 639-2 names. */
const ALIASES: Record<string, string> = {
  en: 'eng',
  hi: 'hin',
  sa: 'san',
  ja: 'jpn',
  mr: 'mar',
  ne: 'nep',
  de: 'deu',
  fr: 'fra',
  zh: 'chi_sim',
  ko: 'kor',
};

export function tesseractLanguage(name: string): string {
  return ALIASES[name.toLowerCase()] ?? name;
}

/**
 * `tesseract/eng+Devanagari` (the languages are the id's suffix) or `NAME=eng+san` (any id);
 * throws naming the spec when it cannot be read.
 */
export function parseModelSpec(spec: string): OcrModel {
  const eq = spec.indexOf('=');
  const id = eq >= 0 ? spec.slice(0, eq).trim() : spec.trim();
  const langs = eq >= 0 ? spec.slice(eq + 1) : spec.slice(spec.lastIndexOf('/') + 1);
  const languages = langs.split('+').map((l) => tesseractLanguage(l.trim()));
  if (id === '' || languages.some((l) => !LANGUAGE.test(l))) {
    throw new Error(
      `model "${spec}" is not "tesseract/LANG+LANG" or "ID=LANG+LANG" (Tesseract language names such as eng, san, Devanagari)`,
    );
  }
  return { id, languages };
}
