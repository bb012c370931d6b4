import { runtimeModel } from './runtime-client';

describe('runtimeModel', () => {
  it.each([
    ['vLLM', { id: 'Qwen/Qwen2.5-3B-Instruct', max_model_len: 32768 }, { id: 'Qwen/Qwen2.5-3B-Instruct', maxModelLen: 32768 }],
    [
      'OCR runtime',
      { id: 'tesseract/san', capabilities: ['ocr', 'chat'], languages: ['san'] },
      { id: 'tesseract/san', capabilities: ['ocr', 'chat'] },
    ],
    [
      'speech runtime',
      { id: 'pocketsphinx/en-us', capabilities: ['transcription'] },
      { id: 'pocketsphinx/en-us', capabilities: ['transcription'] },
    ],
    ['unknown capabilities dropped', { id: 'm', capabilities: ['vision', 'chat', 'chat'] }, { id: 'm', capabilities: ['chat'] }],
    ['none known', { id: 'm', capabilities: ['vision'] }, { id: 'm' }],
    ['no id', { capabilities: ['chat'] }, undefined],
  ])('%s', (_name, entry, expected) => {
    expect(runtimeModel(entry)).toEqual(expected);
  });
});
