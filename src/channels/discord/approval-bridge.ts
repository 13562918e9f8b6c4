// Discord's approval cards are the channels' shared bridge (src/channels/approval-bridge.ts):
// reactions and buttons on Discord, buttons on Telegram.
export * from '../approval-bridge.ts';
