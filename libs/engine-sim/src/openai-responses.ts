/** OpenAI's response and SSE shapes, shared by every runtime. */
export * from '@maas/openai-wire';
