// Loading config + runtime for commands, with the start-up line that says which mode was chosen.
import { loadConfig, type Config } from '../config/config.ts';
import { createLogger, log, setLogger } from '../log.ts';

/** Loads the configuration; quiet commands log only warnings unless LOG_LEVEL says otherwise. */
export function loadCommandConfig(options: { quiet?: boolean } = {}): Config {
  const config = loadConfig();
  const level = config.env.LOG_LEVEL ?? (options.quiet ? 'warn' : 'info');
  setLogger(createLogger({ level }));
  return config;
}

/** Says which mode was chosen and why: a log event, and a plain stderr line for interactive commands. */
export function announceMode(config: Config, options: { plain?: boolean } = {}): void {
  const line = `Lares runs in ${config.mode} mode (${config.modeReason})`;
  log().info({ event: 'mode', mode: config.mode, reason: config.modeReason, memory: config.memoryProvider }, line);
  if (options.plain && !log().isLevelEnabled('info')) process.stderr.write(`lares: ${line}\n`);
}
