// lares status: the workers sharing this store, who holds the channels, and the queue (pending
// approvals, scheduled jobs, the event log), read from the store itself: it works whichever
// worker (or none) is running, on SQLite and on PostgreSQL.
import type { Command } from 'commander';
import { WORKER_STALE_MS } from '../app/worker.ts';
import { describeCall } from '../mcp-server/approvals.ts';
import { openStore } from '../memory/open-store.ts';
import type { MemoryStore } from '../memory/store.ts';
import type { LeaseInfo, WorkerInfo } from '../memory/tool-state.ts';
import { loadCommandConfig } from './context-helpers.ts';
import { action, printJson } from './run.ts';

export interface StatusReport {
  store: 'sqlite' | 'postgres';
  workers: Array<WorkerInfo & { holds: string[] }>;
  leases: LeaseInfo[];
  approvals: { pending: number; oldest: Array<{ id: string; call: string; expiresAt: string }> };
  jobs: { active: number; nextRunAt: string | null };
  events: { lastId: number };
}

export async function statusReport(store: MemoryStore, now = new Date()): Promise<StatusReport> {
  const state = store.toolState;
  const [workers, leases, pending, jobs, lastId] = await Promise.all([
    state.listWorkers(new Date(now.getTime() - WORKER_STALE_MS).toISOString()),
    state.listLeases(),
    state.approvalsWithStatus('pending', {}),
    state.listJobs(false),
    state.lastEventId(),
  ]);
  const live = pending.filter((a) => a.expiresAt > now.toISOString());
  return {
    store: store.kind,
    workers: workers.map((w) => ({ ...w, holds: leases.filter((l) => l.workerId === w.id).map((l) => l.name) })),
    leases,
    approvals: { pending: live.length, oldest: live.slice(0, 5).map((a) => ({ id: a.id, call: describeCall(a.tool, a.args), expiresAt: a.expiresAt })) },
    jobs: { active: jobs.length, nextRunAt: jobs.map((j) => j.nextRunAt).filter((t): t is string => t !== null).sort()[0] ?? null },
    events: { lastId },
  };
}

export function formatStatus(report: StatusReport): string {
  const lines = [`store: ${report.store}`, ''];
  if (report.workers.length === 0) lines.push('workers: none running (no heartbeat in the last 30 s)');
  else {
    lines.push(`workers (${report.workers.length}):`);
    for (const w of report.workers) {
      const what = w.holds.length > 0 ? `holds ${w.holds.join(', ')}` : w.role === 'run' ? 'standby' : '';
      lines.push(`  ${w.id}  ${w.role}${what ? `  ${what}` : ''}  started ${w.startedAt}  seen ${w.seenAt}`);
    }
  }
  const orphan = report.leases.filter((l) => !report.workers.some((w) => w.id === l.workerId));
  for (const l of orphan) lines.push(`  lease ${l.name} held by ${l.workerId} (no recent heartbeat) since ${l.since}`);
  if (!report.leases.some((l) => l.name === 'channels')) lines.push('  channels: held by nobody (no lares run is connected)');
  lines.push('', `approvals pending: ${report.approvals.pending}`);
  for (const a of report.approvals.oldest) lines.push(`  ${a.id}  ${a.call}  (expires ${a.expiresAt})`);
  lines.push(`jobs active: ${report.jobs.active}${report.jobs.nextRunAt ? `, next at ${report.jobs.nextRunAt}` : ''}`);
  lines.push(`events: last id ${report.events.lastId}`);
  return `${lines.join('\n')}\n`;
}

export function registerStatusCommand(program: Command): void {
  program.command('status')
    .description('Show the Lares workers on this store (one holds the Discord/Telegram connections, the others stand by), pending approvals and scheduled jobs.')
    .option('--json', 'print {store, workers: [{id, host, pid, role, startedAt, seenAt, holds}], leases: [{name, workerId, since}], approvals: {pending, oldest}, jobs: {active, nextRunAt}, events: {lastId}}')
    .addHelpText('after', '\nRead from the store (SQLITE_DB_PATH, or DATABASE_URL with MEMORY_PROVIDER=postgres), so it shows every worker on that database.\n\nExamples:\n  lares status\n  lares status --json | jq .workers')
    .action(action(async (options: { json?: boolean }) => {
      const config = loadCommandConfig({ quiet: true });
      const store = await openStore(config);
      try {
        const report = await statusReport(store);
        if (options.json) printJson(report);
        else process.stdout.write(formatStatus(report));
      } finally {
        await store.close();
      }
    }));
}
