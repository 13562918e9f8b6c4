// lares web: the web console alone (for a machine without Discord), on LARES_WEB_HOST (127.0.0.1)
// at LARES_HTTP_PORT beside /health; `--login-link` prints a one-time login link and exits.
import { WorkerPresence } from '../app/worker.ts';
import type { Command } from 'commander';
import { createChannelRuntime } from '../app/channel-runtime.ts';
import { startHealthServer } from '../channels/discord/health-server.ts';
import { startJobRunner } from '../channels/perch.ts';
import { errorMessage } from '../errors.ts';
import { log } from '../log.ts';
import { openStore } from '../memory/open-store.ts';
import { nowIso } from '../time.ts';
import { createWebConsole, printableLoginLink, startupMessage } from '../web/console-server.ts';
import { checkWebSettings } from '../web/security.ts';
import { announceMode, loadCommandConfig } from './context-helpers.ts';
import { action } from './run.ts';

export function registerWebCommand(program: Command): void {
  program.command('web')
    .description('Serve the web console (chat, memory, approvals, history, context and cost, jobs) on 127.0.0.1:LARES_HTTP_PORT, beside GET /health. Prints its address, and a one-time login link when run in a terminal. Stops on SIGTERM or Ctrl-C.')
    .option('--login-link', 'print a one-time login link (valid 15 minutes) for the console and exit; the console may already be running')
    .addHelpText('after', '\nLog in with the link, or with LARES_WEB_TOKEN. Another device: an SSH tunnel (ssh -L 8766:127.0.0.1:8766 home), Tailscale, or a TLS reverse proxy with LARES_WEB_ORIGIN; see README "Web console".\n`lares run` serves the same console when LARES_WEB=true.')
    .action(action(async (options: { loginLink?: boolean }) => {
      const config = loadCommandConfig({ quiet: options.loginLink === true });
      checkWebSettings(config.web);
      if (options.loginLink) {
        const store = await openStore(config);
        try {
          process.stdout.write(`${await printableLoginLink(config, store)}\n`);
          log().info({ event: 'web_login_link' }, 'web console: a login link was printed');
        } finally {
          await store.close();
        }
        return;
      }
      announceMode(config);
      const runtime = await createChannelRuntime(config, { channel: 'terminal' });
      const web = await createWebConsole(config, runtime).catch(async (error: unknown) => { await runtime.close(); throw error; });
      let health: Awaited<ReturnType<typeof startHealthServer>> | undefined;
      // without another channel, approval outcomes and due jobs become turns here; replies are in the history
      const outcomes = runtime.feedApprovalOutcomes(() => undefined);
      const jobs = startJobRunner({ agent: runtime.agent, post: async () => undefined, logger: log() });
      const jobEvents = runtime.approvals.subscribe((event) => { void jobs.handle(event).catch((error: unknown) => log().error({ event: 'job_turn_failed', err: errorMessage(error) }, 'scheduled job failed')); });
      const presence = new WorkerPresence(runtime.store, 'web');
      try {
        await presence.start(log());
        const startedAt = nowIso();
        health = await startHealthServer({
          port: config.httpPort, host: config.web.host, handle: web.handle,
          report: async () => ({ status: 'ok', mode: config.mode, discord: { connected: false }, perch: { intervalMinutes: 0, lastTickAt: null }, approvals: { pending: (await runtime.approvals.listPending()).length }, startedAt, web: true }),
        });
        web.setPort(health.port);
        log().info({ event: 'web_started', url: web.url() }, `web console at ${web.url()}`);
        process.stdout.write(startupMessage(web, process.stdout.isTTY === true));
        await new Promise<void>((resolve) => {
          process.once('SIGTERM', () => resolve());
          process.once('SIGINT', () => resolve());
        });
        log().info({ event: 'stopping' }, 'stopping the web console');
      } finally {
        await presence.stop();
        jobEvents.close();
        outcomes.close();
        await jobs.stop();
        await health?.close();
        await web.close();
        await runtime.close();
        log().info({ event: 'stopped' }, 'stopped');
      }
    }));
}
