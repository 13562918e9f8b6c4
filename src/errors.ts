// One error tree for Lares. `code` is stable (scripts and tests match on it);
// `message` says what happened and what to do about it.

export type LaresErrorCode =
  | 'CONFIG_INVALID'
  | 'MISSING_API_KEY'
  | 'LLM_ERROR'
  | 'LLM_CONTEXT_EXCEEDED'
  | 'STORE_ERROR'
  | 'MEMORY_TOOL_ERROR'
  | 'TOOL_ERROR'
  | 'TOOL_NOT_FOUND'
  | 'MCP_UNAVAILABLE'
  | 'APPROVAL_ERROR'
  | 'LETTA_ERROR'
  | 'DISCORD_ERROR'
  | 'TELEGRAM_ERROR'
  | 'EMBEDDING_ERROR'
  | 'MODEL_NOT_FOUND'
  | 'BUDGET_REACHED'
  | 'USAGE';

export class LaresError extends Error {
  readonly code: LaresErrorCode;
  /** Exit code a CLI should use when this error ends the command. */
  readonly exitCode: number;
  constructor(code: LaresErrorCode, message: string, options?: { cause?: unknown; exitCode?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LaresError';
    this.code = code;
    this.exitCode = options?.exitCode ?? (code === 'CONFIG_INVALID' || code === 'MISSING_API_KEY' || code === 'USAGE' ? 2 : 1);
  }
}

export function isLaresError(error: unknown): error is LaresError {
  return error instanceof LaresError;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
