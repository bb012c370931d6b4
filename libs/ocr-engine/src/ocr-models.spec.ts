import { parseModelSpec, tesseractLanguage } from './ocr-models';

describe('parseModelSpec', () => {
  it.each([
    ['tesseract/eng+Devanagari', { id: 'tesseract/eng+Devanagari', languages: ['eng', 'Devanagari'] }],
    ['tesseract/jpn', { id: 'tesseract/jpn', languages: ['jpn'] }],
    ['sanskrit-ocr=san+eng', { id: 'sanskrit-ocr', languages: ['san', 'eng'] }],
    ['vedic=sa', { id: 'vedic', languages: ['san'] }],
  ])('%s', (spec, model) => {
    expect(parseModelSpec(spec)).toEqual(model);
  });

  it.each(['', '=eng', 'x=eng+', 'x=../etc'])('refuses %j', (spec) => {
    expect(() => parseModelSpec(spec)).toThrow(/is not/);
  });

  it('maps two-letter codes and keeps Tesseract names', () => {
    expect(['en', 'ja', 'hin', 'Devanagari'].map(tesseractLanguage)).toEqual(['eng', 'jpn', 'hin', 'Devanagari']);
  });
});
