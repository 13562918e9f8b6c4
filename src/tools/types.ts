// Tools as the agent sees them: definitions for the model, and providers that run them.
// Local tools (memory_*, conversation_search, discord_*) and MCP servers are both ToolProviders.
import type { ImageBlock, TextBlock } from '../llm/content.ts';

export interface ToolAnnotations {
  title?: string;
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
}

export interface ToolDefinition {
  name: string;
  description: string;
  /** JSON Schema of the arguments (type: object) */
  inputSchema: { type: 'object'; properties?: Record<string, unknown>; required?: string[]; [key: string]: unknown };
  annotations?: ToolAnnotations;
}

export interface ToolCallContext {
  conversationId: string;
  /** id of the channel message being answered (Discord message id), when there is one */
  replyToMessageId?: string;
  signal?: AbortSignal;
}

export interface ToolOutcome {
  content: string | Array<TextBlock | ImageBlock>;
  isError: boolean;
  /** set when the call was queued for the owner's approval instead of run */
  pendingApprovalId?: string;
  /** memory block labels this call changed (the system prompt folds them in at the next turn) */
  changedBlocks?: string[];
}

export interface ToolProvider {
  /** a short name for logs and clash resolution: 'local', 'lares-mcp', or an mcpServers key */
  readonly name: string;
  listTools(): Promise<ToolDefinition[]>;
  callTool(name: string, args: Record<string, unknown>, context: ToolCallContext): Promise<ToolOutcome>;
  close?(): Promise<void>;
}

export function errorOutcome(message: string): ToolOutcome {
  return { content: message, isError: true };
}

export function textOutcome(message: string, extra: Partial<ToolOutcome> = {}): ToolOutcome {
  return { content: message, isError: false, ...extra };
}
