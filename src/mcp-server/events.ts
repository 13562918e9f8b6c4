// Stored events (approval_needed, approval_result, job_due). Stored so that an SSE
// client that reconnects with Last-Event-ID misses nothing, and so that another
// process sharing the database file can poll for them.
import type { DatabaseSync } from 'node:sqlite';
import { nowIso } from '../time.ts';

export type LaresEventType = 'approval_needed' | 'approval_result' | 'job_due';

export interface LaresEvent {
  /** increasing; the SSE `id:` */
  id: number;
  type: LaresEventType;
  data: Record<string, unknown>;
  createdAt: string;
}

type Listener = (event: LaresEvent) => void;

interface EventRow { id: number; type: string; data_json: string; created_at: string }

export class EventLog {
  readonly #db: DatabaseSync;
  readonly #listeners = new Set<Listener>();

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  append(type: LaresEventType, data: Record<string, unknown>): LaresEvent {
    const createdAt = nowIso();
    const result = this.#db.prepare('INSERT INTO mcp_events (type, data_json, created_at) VALUES (?, ?, ?)').run(type, JSON.stringify(data), createdAt);
    const event: LaresEvent = { id: Number(result.lastInsertRowid), type, data, createdAt };
    for (const listener of this.#listeners) {
      try { listener(event); } catch { /* a listener's failure is its own */ }
    }
    return event;
  }

  /** Events after `afterId`, oldest first. */
  since(afterId: number, limit = 1000): LaresEvent[] {
    const rows = this.#db.prepare('SELECT id, type, data_json, created_at FROM mcp_events WHERE id > ? ORDER BY id LIMIT ?').all(afterId, limit) as unknown as EventRow[];
    return rows.map(toEvent);
  }

  lastId(): number {
    const row = this.#db.prepare('SELECT MAX(id) AS id FROM mcp_events').get() as { id: number | null };
    return row.id ?? 0;
  }

  /** Events appended by this process, as they happen. */
  onEvent(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => { this.#listeners.delete(listener); };
  }
}

function toEvent(row: EventRow): LaresEvent {
  return { id: row.id, type: row.type as LaresEventType, data: JSON.parse(row.data_json) as Record<string, unknown>, createdAt: row.created_at };
}
