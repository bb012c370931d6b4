import { ChatTurn, SamplingParams } from './openai-requests';

/** A chat rendered with the model's template: what to evaluate and what ends the assistant's turn. */
export interface ChatPrompt {
  readonly tokens: readonly number[];
  /** Tokens that end the turn besides the model's end-of-generation tokens. */
  readonly stopTokens: readonly number[];
  /** Texts that end the turn when the model writes them out piece by piece. */
  readonly stopTexts: readonly string[];
}

/** One context sequence: a KV cache that one request at a time generates on. */
export interface GenerationSlot {
  readonly index: number;
  /** Tokens its KV cache holds (the last request's prompt and answer), for prefix reuse. */
  cachedTokens(): readonly number[];
  /**
   * Keeps the first `reuse` cached tokens, evaluates the rest of `prompt`, then yields sampled
   * tokens until the caller stops iterating. End-of-generation tokens are yielded too.
   */
  generate(prompt: readonly number[], reuse: number, sampling: SamplingParams): AsyncGenerator<number, void, void>;
}

export interface ModelFacts {
  readonly architecture: string;
  readonly name?: string;
  readonly trainContextSize: number;
  readonly embeddingLength: number;
  readonly vocabularySize: number;
  /** The chat format node-llama-cpp recognised from the template (ChatML, Llama 3, Jinja…). */
  readonly chatFormat: string;
  readonly fileBytes: number;
  readonly runtime: string;
}

/**
 * A GGUF model loaded into llama.cpp: tokenizer, chat template, generation slots and (optionally)
 * an embedding context. The one seam between the services and node-llama-cpp.
 */
export interface LlamaRuntime {
  readonly facts: ModelFacts;
  /** Tokens each slot holds at most: prompt plus answer. */
  readonly contextSize: number;
  readonly slots: readonly GenerationSlot[];
  /** Raw text as a prompt: the model's start token when it wants one, special-token text parsed. */
  tokenizePrompt(text: string, addSpecialTokens?: boolean): number[];
  detokenize(tokens: readonly number[], lastTokens?: readonly number[]): string;
  isEndOfGeneration(token: number): boolean;
  renderChat(turns: readonly ChatTurn[]): ChatPrompt;
  readonly embeddings?: EmbeddingRuntime;
  close(): Promise<void>;
}

/** An embedding context: one input evaluated at a time. */
export interface EmbeddingRuntime {
  readonly contextSize: number;
  readonly dimensions: number;
  /** Tokens the input costs as evaluated (start/end tokens included). */
  inputLength(input: string | readonly number[]): number;
  embed(input: string | readonly number[]): Promise<readonly number[]>;
}
