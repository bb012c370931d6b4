/**
 * @maas/ocr-engine — the OCR runtime (`maas ocr-engine`): Tesseract behind an HTTP API that a model
 * worker registers like a vLLM server.
 *
 * - `POST /v1/ocr` `{ model?, image, languages?, layout? }` (JSON with base64/data URL, or multipart
 *   with an `image` file part) → `{ id, object: "ocr.result", created, model, text, languages,
 *   pages?, lines?, words?, usage: { images, characters } }`; `layout` "lines" adds pages and lines,
 *   "words" adds words too, each with `bbox {left, top, width, height}` (pixels) and `confidence` 0..1.
 * - `POST /v1/chat/completions` with OpenAI vision messages: the images of the last user message
 *   are read and the text is the assistant's answer (stream or not); usage counts 85 prompt tokens
 *   per image plus text parts, and ceil(UTF-8 bytes / 4) of the answer.
 * - `GET /v1/models` (ids such as `tesseract/eng+Devanagari`, with `capabilities` and `languages`),
 *   `GET /health`, `GET /metrics` (vLLM's running/waiting gauges).
 */
export { DEFAULT_OCR_MODELS, parseModelSpec, tesseractLanguage } from './ocr-models';
export type { OcrModel } from './ocr-models';
export { parseChatOcrRequest, parseOcrRequest } from './ocr-request';
export type { ChatOcrRequest, OcrLayoutLevel, OcrRequest } from './ocr-request';
export { estimateTokens, IMAGE_PROMPT_TOKENS, OcrService, tidyText } from './ocr-service';
export type { ChatOcrAnswer, OcrResult, OcrServiceConfig } from './ocr-service';
export { joinWords, parseTesseractTsv } from './tesseract-tsv';
export type { BoundingBox, OcrLayout, OcrLine, OcrPage, OcrWord } from './tesseract-tsv';
export { TesseractRecognizer } from './tesseract.repository';
export type { OcrRecognizer, Recognition, RecognizeOptions, TesseractOptions } from './tesseract.repository';
export { DEFAULT_MAX_IMAGE_BYTES, startOcrServer } from './ocr-server';
export type { OcrServer, OcrServerOptions } from './ocr-server';
