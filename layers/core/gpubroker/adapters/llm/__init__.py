"""Language-model adapters (the :class:`gpubroker.ports.LanguageModel` port): ``bedrock`` (Amazon Bedrock Converse
through boto3 ``bedrock-runtime``), ``openai_compat`` (any OpenAI-compatible chat completions endpoint: Ollama,
vLLM, ...), and ``budget`` (the per-user daily call budget, in Redis)."""
