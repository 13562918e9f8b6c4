// Local tools: run in-process (memory, conversation search, Discord). Each has a zod schema;
// bad arguments go back to the model as an error that names the field, so it can fix the call.
import { z } from 'zod';
import { errorMessage, isLaresError } from '../errors.ts';
import { log } from '../log.ts';
import type { ToolAnnotations, ToolCallContext, ToolDefinition, ToolOutcome, ToolProvider } from './types.ts';

export interface LocalTool<S extends z.ZodObject = z.ZodObject> {
  name: string;
  description: string;
  schema: S;
  annotations?: ToolAnnotations;
  run(args: z.infer<S>, context: ToolCallContext): Promise<ToolOutcome>;
}

export function defineTool<S extends z.ZodObject>(tool: LocalTool<S>): LocalTool {
  return tool as unknown as LocalTool;
}

export function toolDefinition(tool: LocalTool): ToolDefinition {
  const schema = z.toJSONSchema(tool.schema, { target: 'draft-7' }) as Record<string, unknown>;
  delete schema.$schema;
  return { name: tool.name, description: tool.description, inputSchema: schema as ToolDefinition['inputSchema'], annotations: tool.annotations };
}

export function formatArgumentErrors(toolName: string, error: z.ZodError): string {
  const problems = error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(arguments)'}: ${issue.message}`);
  return `Invalid arguments for ${toolName}: ${problems.join('; ')}. Fix these and call ${toolName} again.`;
}

export class LocalToolProvider implements ToolProvider {
  readonly name: string;
  private readonly tools = new Map<string, LocalTool>();

  constructor(name: string, tools: LocalTool[]) {
    this.name = name;
    for (const tool of tools) this.tools.set(tool.name, tool);
  }

  async listTools(): Promise<ToolDefinition[]> {
    return [...this.tools.values()].map(toolDefinition);
  }

  async callTool(name: string, args: Record<string, unknown>, context: ToolCallContext): Promise<ToolOutcome> {
    const tool = this.tools.get(name);
    if (!tool) return { content: `Unknown tool ${name}.`, isError: true };
    const parsed = tool.schema.safeParse(args ?? {});
    if (!parsed.success) return { content: formatArgumentErrors(name, parsed.error), isError: true };
    try {
      return await tool.run(parsed.data, context);
    } catch (error) {
      if (!isLaresError(error)) log().warn({ event: 'tool_error', tool: name, err: error }, 'local tool failed');
      return { content: `${name} failed: ${errorMessage(error)}`, isError: true };
    }
  }
}
