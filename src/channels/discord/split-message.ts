// Discord's reply splitting is the channels' shared one (src/channels/split-message.ts).
export { DISCORD_MESSAGE_LIMIT, splitMessage } from '../split-message.ts';
