// discord_send_message and discord_react: local tools that act only on real Discord messages
// Lares has seen (received or sent), never on ids the model made up. The provider exists
// before the Discord client (the agent's tool registry is built first) and is attached to
// the channel once it is connected.
import { errorMessage } from '../../errors.ts';
import { errorOutcome, textOutcome, type ToolCallContext, type ToolDefinition, type ToolOutcome, type ToolProvider } from '../../tools/types.ts';

/** What the tools need from the running channel. */
export interface DiscordToolOutlet {
  /** the channel id of a message Lares has seen, or undefined when it has not */
  channelOf(messageId: string): Promise<string | undefined>;
  /** posts content (split if long) in a channel, optionally as a reply; returns the new message ids */
  send(channelId: string | undefined, content: string, replyTo?: string): Promise<string[]>;
  react(channelId: string, messageId: string, emoji: string): Promise<void>;
}

const MAX_CONTENT = 8000;
const SNOWFLAKE = /^\d{15,21}$/;

const TOOLS: ToolDefinition[] = [
  {
    name: 'discord_send_message',
    description: 'Send a message to your person on Discord, in the Lares channel (or in the conversation of the message you are answering). '
      + 'Long messages are split. Use it to say something outside your normal reply, e.g. a progress note during a long task. '
      + 'Your final reply is posted anyway: do not repeat it with this tool.',
    inputSchema: {
      type: 'object',
      properties: {
        content: { type: 'string', description: `the message text (Markdown), at most ${MAX_CONTENT} characters` },
        reply_to: { type: 'string', description: 'optional id of a Discord message you have seen, to reply to it' },
      },
      required: ['content'],
      additionalProperties: false,
    },
    annotations: { title: 'Send a Discord message', readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  },
  {
    name: 'discord_react',
    description: 'Add an emoji reaction to a Discord message you have seen. Without message_id it reacts to the message you are answering.',
    inputSchema: {
      type: 'object',
      properties: {
        emoji: { type: 'string', description: 'a unicode emoji like 👍, or a custom emoji as name:id' },
        message_id: { type: 'string', description: 'optional id of a Discord message you have seen (default: the message being answered)' },
      },
      required: ['emoji'],
      additionalProperties: false,
    },
    annotations: { title: 'React to a Discord message', readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  },
];

export class DiscordTools implements ToolProvider {
  readonly name = 'discord';
  #outlet: DiscordToolOutlet | undefined;

  attach(outlet: DiscordToolOutlet | undefined): void {
    this.#outlet = outlet;
  }

  async listTools(): Promise<ToolDefinition[]> {
    return TOOLS;
  }

  async callTool(name: string, args: Record<string, unknown>, context: ToolCallContext): Promise<ToolOutcome> {
    if (name !== 'discord_send_message' && name !== 'discord_react') return errorOutcome(`unknown tool ${name}: this provider has discord_send_message and discord_react`);
    const outlet = this.#outlet;
    if (!outlet) return errorOutcome(`${name}: Discord is not connected (the Discord channel runs only under \`lares run\` with DISCORD_BOT_TOKEN set)`);
    try {
      return name === 'discord_send_message' ? await sendMessage(outlet, args, context) : await react(outlet, args, context);
    } catch (error) {
      return errorOutcome(`${name} failed: ${errorMessage(error)}`);
    }
  }
}

async function sendMessage(outlet: DiscordToolOutlet, args: Record<string, unknown>, context: ToolCallContext): Promise<ToolOutcome> {
  const content = args.content;
  if (typeof content !== 'string' || content.trim() === '') return errorOutcome('discord_send_message: "content" must be a non-empty string');
  if (content.length > MAX_CONTENT) return errorOutcome(`discord_send_message: "content" has ${content.length} characters; the limit is ${MAX_CONTENT}. Send less, or several messages.`);
  let channelId: string | undefined;
  let replyTo: string | undefined;
  if (args.reply_to !== undefined && args.reply_to !== null && args.reply_to !== '') {
    replyTo = String(args.reply_to);
    const known = SNOWFLAKE.test(replyTo) ? await outlet.channelOf(replyTo) : undefined;
    if (!known) return errorOutcome(`discord_send_message: "reply_to" ${replyTo} is not a Discord message you have seen; use the id of a message you received or sent, or leave reply_to out`);
    channelId = known;
  } else if (context.replyToMessageId) {
    channelId = await outlet.channelOf(context.replyToMessageId);
  }
  const ids = await outlet.send(channelId, content, replyTo);
  return textOutcome(`sent ${ids.length === 1 ? 'message' : `${ids.length} messages`} ${ids.join(', ')}`);
}

async function react(outlet: DiscordToolOutlet, args: Record<string, unknown>, context: ToolCallContext): Promise<ToolOutcome> {
  const emoji = typeof args.emoji === 'string' ? args.emoji.trim() : '';
  if (emoji === '' || emoji.length > 64) return errorOutcome('discord_react: "emoji" must be one emoji like 👍 (or a custom emoji as name:id)');
  const given = args.message_id !== undefined && args.message_id !== null && args.message_id !== '';
  const messageId = given ? String(args.message_id) : context.replyToMessageId;
  if (!messageId) return errorOutcome('discord_react: there is no message being answered here; pass "message_id" of a Discord message you have seen');
  const channelId = SNOWFLAKE.test(messageId) ? await outlet.channelOf(messageId) : undefined;
  if (!channelId) return errorOutcome(`discord_react: ${messageId} is not a Discord message you have seen; use the id of a message you received or sent`);
  await outlet.react(channelId, messageId, emoji);
  return textOutcome(`reacted ${emoji} to message ${messageId}`);
}
