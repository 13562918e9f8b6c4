// lares mcp: the tool server (Streamable HTTP at /mcp + approval REST + /events), or --stdio.
import type { Command } from 'commander';
import { LaresError } from '../errors.ts';
import { log } from '../log.ts';
import { WorkerPresence } from '../app/worker.ts';
import { startMcpHttpServer } from '../mcp-server/http.ts';
import { runMcpStdioServer } from '../mcp-server/stdio.ts';
import pkg from '../../package.json' with { type: 'json' };
import { loadCommandConfig } from './context-helpers.ts';
import { action } from './run.ts';

export function registerMcpCommand(program: Command): void {
  program.command('mcp')
    .description('Serve Lares\'s tools over MCP (Streamable HTTP at /mcp, with the approval queue at /approvals and events at /events), or over stdio for Claude Desktop and other MCP clients.')
    .option('--stdio', 'speak MCP on stdin/stdout instead of HTTP')
    .option('--host <host>', 'address to listen on (default MCP_HOST or 127.0.0.1; a non-loopback address needs LARES_MCP_TOKEN)')
    .option('--port <port>', 'port to listen on (default MCP_PORT or 8765; 0 picks a free port)')
    .addHelpText('after', [
      '',
      'Environment: LARES_MCP_TOKEN (bearer token for /mcp and the REST routes), LARES_ALLOWED_PATHS, LARES_BLOCKED_FILES,',
      'LARES_ALLOWLIST_FILE (shell allowlist: one JSON rule per line, {"exact": ["git","status"]} or {"prefix": ["git","log"]}),',
      'OBSIDIAN_VAULT_PATH, LARES_APPROVAL_TTL (default 24h). The approval queue and jobs live in the memory store: SQLITE_DB_PATH, or DATABASE_URL with MEMORY_PROVIDER=postgres (the same as lares run).',
      '',
      'Examples:',
      '  LARES_MCP_TOKEN=$(openssl rand -hex 32) npx lares mcp',
      '  npx lares mcp --stdio      # in claude_desktop_config.json: {"command": "npx", "args": ["lares", "mcp", "--stdio"]}',
    ].join('\n'))
    .action(action(async (options: { stdio?: boolean; host?: string; port?: string }) => {
      const config = loadCommandConfig({ quiet: options.stdio === true });
      let port: number | undefined;
      if (options.port !== undefined) {
        if (!/^\d+$/.test(options.port) || Number(options.port) > 65_535) throw new LaresError('USAGE', `--port ${options.port}: expected a port number from 0 to 65535`);
        port = Number(options.port);
      }
      if (options.stdio) {
        if (options.host || options.port) throw new LaresError('USAGE', '--stdio does not listen on a network address: drop --host/--port');
        const server = await runMcpStdioServer(config, { version: pkg.version });
        await waitForSignal(async () => { await server.close(); }, true);
        return;
      }
      const server = await startMcpHttpServer(config, { host: options.host, port, version: pkg.version });
      process.stderr.write(`lares mcp: serving ${server.runtime.definitions().length} tools at ${server.url} (approvals: ${server.baseUrl}/approvals/pending, events: ${server.baseUrl}/events)\n`);
      // shown by `lares status` beside the `lares run` workers
      const presence = new WorkerPresence(server.runtime.store, 'mcp');
      await presence.start(log()).catch(async (error: unknown) => { await server.close(); throw error; });
      await waitForSignal(async () => { await presence.stop(); await server.close(); });
    }));
}

/** Resolves once SIGINT/SIGTERM arrived (or stdin closed, for stdio) and the server is closed. */
function waitForSignal(close: () => Promise<void>, stdinEnds = false): Promise<void> {
  return new Promise((resolve) => {
    let closing = false;
    const stop = (signal: string) => {
      if (closing) return;
      closing = true;
      log().info({ signal }, 'lares mcp: shutting down');
      close().finally(() => resolve());
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
    // stdio: the client closing our stdin means it is done with us.
    if (stdinEnds) process.stdin.once('end', () => stop('stdin closed'));
  });
}
