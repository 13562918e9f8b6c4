// lares run: the long-running service — the configured channels (Discord and/or Telegram),
// agent (direct or Letta mode), approval cards, perch time, scheduled jobs, GET /health on loopback.
import type { Command } from 'commander';
import { createChannelRuntime } from '../app/channel-runtime.ts';
import { channelTools, requireChannelConfig, startChannels, type RunningChannels } from '../app/channel-service.ts';
import { buildHealthReport, startHealthServer } from '../channels/discord/health-server.ts';
import type { Config } from '../config/config.ts';
import { LaresError } from '../errors.ts';
import { log } from '../log.ts';
import { nowIso } from '../time.ts';
import { CHANNELS_LEASE, runWhileLeased, WorkerPresence, type LeasedService } from '../app/worker.ts';
import { action } from './run.ts';
import { createWebConsole, startupMessage, type WebConsole } from '../web/console-server.ts';
import { announceMode, loadCommandConfig } from './context-helpers.ts';

export function requireDiscordConfig(config: Config): void {
  const missing = [
    config.discord.botToken ? undefined : '  DISCORD_BOT_TOKEN: the bot\'s token (Discord developer portal → your application → Bot → Reset Token)',
    config.discord.channelId ? undefined : '  DISCORD_CHANNEL_ID: the channel where Lares listens and speaks (right-click the channel → Copy Channel ID)',
    config.discord.ownerId ? undefined : '  DISCORD_OWNER_ID: your own user id, the only one whose reactions approve (right-click your name → Copy User ID)',
  ].filter(Boolean);
  if (missing.length > 0) {
    throw new LaresError('CONFIG_INVALID', `lares run needs Discord settings in .env or the environment:\n${missing.join('\n')}\nTo talk in the terminal instead, use: npx lares chat`);
  }
}

export function registerRunCommand(program: Command): void {
  program.command('run')
    .description('Run Lares as a service: the Discord and/or Telegram channel, approvals by the owner\'s button or reaction, perch time, scheduled jobs, and GET /health on 127.0.0.1:LARES_HTTP_PORT. Stops cleanly on SIGTERM (finishes the current turn); SIGUSR2 runs a perch tick now.')
    .addHelpText('after', '\nNeeds TELEGRAM_BOT_TOKEN and TELEGRAM_OWNER_ID, and/or DISCORD_BOT_TOKEN, DISCORD_CHANNEL_ID and DISCORD_OWNER_ID; see README. Under systemd: deploy/systemd/lares.service.')
    .action(action(async () => {
      const config = loadCommandConfig();
      announceMode(config);
      requireChannelConfig(config);
      const tools = channelTools(config);
      const runtime = await createChannelRuntime(config, { channel: 'discord', extraTools: [...tools.values()].flat() });
      const presence = new WorkerPresence(runtime.store, 'run');
      let channels: LeasedService<RunningChannels> | undefined;
      let health: Awaited<ReturnType<typeof startHealthServer>> | undefined;
      let web: WebConsole | undefined;
      try {
        // /health first: a taken port fails before Discord is touched, and a monitor sees 503
        // (not "connection refused") while Lares is still connecting
        const startedAt = nowIso();
        // LARES_WEB=true: the web console shares the /health port (src/web/)
        web = config.web.enabled ? await createWebConsole(config, runtime) : undefined;
        health = await startHealthServer({
          port: config.httpPort, host: web ? config.web.host : undefined, handle: web?.handle,
          report: () => {
            const channel = channels?.current();
            return buildHealthReport({ mode: config.mode, startedAt, channel, channels: channel?.connections(), approvals: runtime.approvals, worker: channels ? { id: presence.info.id, role: channels.role } : undefined });
          },
        });
        web?.setPort(health.port);
        if (web) process.stdout.write(startupMessage(web, process.stdout.isTTY === true));
        await presence.start(log());
        // several workers on one database: the one holding the lease runs the channels, the others stand by
        channels = await runWhileLeased({ store: runtime.store, workerId: presence.info.id, lease: CHANNELS_LEASE, logger: log(), start: () => startChannels(config, runtime, { logger: log(), tools }) });
        log().info({ event: 'started', mode: config.mode, health: health.url, worker: presence.info.id, role: channels.role }, `Lares is running (${config.mode} mode${channels.role === 'standby' ? ', standing by' : ''}); health at ${health.url}`);
        // `kill -USR2 <pid>` (or `systemctl kill -s USR2 lares`): a perch tick now, through the same queue
        const leased = channels;
        const perchNow = () => { log().info({ event: 'perch_requested' }, 'perch tick requested by SIGUSR2'); void leased.current()?.perch.tick(); };
        process.on('SIGUSR2', perchNow);
        await new Promise<void>((resolve) => {
          process.once('SIGTERM', () => resolve());
          process.once('SIGINT', () => resolve());
        });
        process.off('SIGUSR2', perchNow);
        log().info({ event: 'stopping' }, 'stopping: finishing the turn in progress');
      } finally {
        await channels?.close();
        await presence.stop();
        await health?.close();
        await web?.close();
        await runtime.close();
        log().info({ event: 'stopped' }, 'stopped');
        // discord.js keeps retrying a gateway that is down even after destroy(), which would keep
        // the process alive until systemd kills it: everything is closed, so leave for sure
        setTimeout(() => process.exit(), 1000).unref();
      }
    }));
}
