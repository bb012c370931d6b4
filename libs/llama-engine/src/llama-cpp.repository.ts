import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as NodeLlamaCpp from 'node-llama-cpp';
import { Logger } from '@maas/logging';
import { ChatPrompt, EmbeddingRuntime, GenerationSlot, LlamaRuntime, ModelFacts } from './llama-runtime';
import { ChatTurn, SamplingParams } from './openai-requests';

type Module = typeof NodeLlamaCpp;

export interface LlamaLoadOptions {
  readonly modelPath: string;
  /** Tokens per sequence (prompt plus answer). */
  readonly contextSize: number;
  /** Sequences generating at once. */
  readonly sequences: number;
  /** CPU threads per evaluation; more is not faster for small models on a busy machine (threads synchronise per token). */
  readonly threads: number;
  /** Also create an embedding context. */
  readonly embedding: boolean;
  readonly batchSize?: number;
  readonly logger?: Logger;
}

// node-llama-cpp is ESM only; CommonJS transpilers turn import() into require(), which cannot load
// it, so the import is built at run time and the package path resolved from here.
const importEsm = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<unknown>;
let loading: Promise<Module> | undefined;

export function loadNodeLlamaCpp(): Promise<Module> {
  loading ??= importEsm(pathToFileURL(require.resolve('node-llama-cpp')).href) as Promise<Module>;
  return loading;
}

function packageVersion(): string {
  try {
    const manifest = path.join(path.dirname(require.resolve('node-llama-cpp')), '..', 'package.json');
    return String((JSON.parse(fs.readFileSync(manifest, 'utf8')) as { version?: unknown }).version ?? 'unknown');
  } catch {
    return 'unknown';
  }
}

class Slot implements GenerationSlot {
  constructor(
    readonly index: number,
    private readonly sequence: NodeLlamaCpp.LlamaContextSequence,
  ) {}

  cachedTokens(): readonly number[] {
    return this.sequence.contextTokens as readonly number[];
  }

  async *generate(prompt: readonly number[], reuse: number, sampling: SamplingParams): AsyncGenerator<number, void, void> {
    const sequence = this.sequence;
    if (sequence.nextTokenIndex > reuse) await sequence.eraseContextTokenRanges([{ start: reuse, end: sequence.nextTokenIndex }]);
    const tokens = prompt.slice(reuse) as NodeLlamaCpp.Token[];
    const iterator = sequence.evaluate(tokens, {
      temperature: sampling.temperature,
      topP: sampling.topP,
      topK: sampling.topK,
      minP: sampling.minP,
      ...(sampling.seed !== undefined ? { seed: sampling.seed } : {}),
      yieldEogToken: true,
    });
    for await (const token of iterator) yield token as number;
  }
}

class Embeddings implements EmbeddingRuntime {
  constructor(
    private readonly context: NodeLlamaCpp.LlamaEmbeddingContext,
    readonly contextSize: number,
    readonly dimensions: number,
  ) {}

  inputLength(input: string | readonly number[]): number {
    return this.context.calculateInputLength(typeof input === 'string' ? input : ([...input] as NodeLlamaCpp.Token[]));
  }

  async embed(input: string | readonly number[]): Promise<readonly number[]> {
    const embedding = await this.context.getEmbeddingFor(typeof input === 'string' ? input : ([...input] as NodeLlamaCpp.Token[]));
    return embedding.vector;
  }
}

/** Loads a GGUF file on the CPU with node-llama-cpp's prebuilt llama.cpp (never compiles, never downloads). */
export async function loadLlamaRuntime(options: LlamaLoadOptions): Promise<LlamaRuntime> {
  if (!fs.existsSync(options.modelPath)) throw new Error(`model file not found: ${options.modelPath}`);
  const lib = await loadNodeLlamaCpp();
  const log = options.logger;
  const llama = await lib.getLlama({
    gpu: false,
    build: 'never',
    progressLogs: false,
    logLevel: lib.LlamaLogLevel.warn,
    logger: (level, message) => {
      const text = message.trim();
      if (!text) return;
      if (level === lib.LlamaLogLevel.error || level === lib.LlamaLogLevel.fatal) log?.error('llama.cpp', { message: text });
      else if (level === lib.LlamaLogLevel.warn) log?.warn('llama.cpp', { message: text });
      else log?.debug('llama.cpp', { message: text });
    },
  });
  const model = await llama.loadModel({ modelPath: options.modelPath, gpuLayers: 0 });
  const context = await model.createContext({
    contextSize: options.contextSize,
    sequences: options.sequences,
    threads: options.threads,
    ...(options.batchSize ? { batchSize: options.batchSize } : {}),
  });
  const slots = Array.from({ length: options.sequences }, (_, i) => new Slot(i, context.getSequence()));
  let embeddings: Embeddings | undefined;
  if (options.embedding) {
    const embeddingContext = await model.createEmbeddingContext({ contextSize: options.contextSize, threads: options.threads });
    embeddings = new Embeddings(embeddingContext, options.contextSize, model.embeddingVectorSize);
  }
  const wrapper = lib.resolveChatWrapper(model);
  const tokenizer = model.tokenizer;

  const renderChat = (turns: readonly ChatTurn[]): ChatPrompt => {
    const history: NodeLlamaCpp.ChatHistoryItem[] = turns.map((t) =>
      t.role === 'assistant'
        ? { type: 'model', response: [t.text] }
        : t.role === 'system'
          ? { type: 'system', text: t.text }
          : { type: 'user', text: t.text },
    );
    // An empty model turn at the end: the template leaves it open for the answer.
    history.push({ type: 'model', response: [] });
    const state = wrapper.generateContextState({ chatHistory: history });
    const stopTokens = new Set<number>();
    const stopTexts = new Set<string>();
    for (const trigger of state.stopGenerationTriggers) {
      const tokens = trigger.tokenize(tokenizer);
      if (tokens.length === 1 && model.isSpecialToken(tokens[0])) stopTokens.add(tokens[0]);
      else if (trigger.values.every((v) => typeof v === 'string')) stopTexts.add(trigger.toString());
      else if (tokens.length > 0) stopTexts.add(model.detokenize(tokens, true));
    }
    return {
      tokens: state.contextText.tokenize(tokenizer) as number[],
      stopTokens: [...stopTokens],
      stopTexts: [...stopTexts].filter((s) => s.length > 0),
    };
  };

  const facts: ModelFacts = {
    architecture: String(model.fileInfo.metadata.general.architecture),
    ...(typeof model.fileInfo.metadata.general.name === 'string' ? { name: model.fileInfo.metadata.general.name } : {}),
    trainContextSize: model.trainContextSize,
    embeddingLength: model.embeddingVectorSize,
    vocabularySize: [...model.iterateAllTokens()].length,
    chatFormat: wrapper.wrapperName,
    fileBytes: fs.statSync(options.modelPath).size,
    runtime: `node-llama-cpp ${packageVersion()} (llama.cpp release ${llama.llamaCppRelease.release}, ${llama.buildType} CPU binary)`,
  };

  return {
    facts,
    contextSize: context.contextSize,
    slots,
    tokenizePrompt(text, addSpecialTokens = true) {
      const tokens = model.tokenize(text, addSpecialTokens) as number[];
      const bos = model.tokens.bos;
      // Like llama-server and vLLM: the start token when the model asks for one, unless already there.
      if (addSpecialTokens && bos !== null && model.tokens.shouldPrependBosToken && tokens[0] !== bos) tokens.unshift(bos);
      return tokens;
    },
    detokenize: (tokens, lastTokens) =>
      model.detokenize(tokens as NodeLlamaCpp.Token[], false, lastTokens as NodeLlamaCpp.Token[] | undefined),
    isEndOfGeneration: (token) => model.isEogToken(token as NodeLlamaCpp.Token),
    renderChat,
    ...(embeddings ? { embeddings } : {}),
    async close() {
      await llama.dispose();
    },
  };
}
