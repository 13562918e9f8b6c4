// Conversation locks for several `lares run` workers on one PostgreSQL database: a session-level
// advisory lock per conversation, held on one dedicated connection for the whole turn, so two
// workers never run turns of the same conversation at once. If a worker dies its connection
// closes and PostgreSQL releases the lock by itself.
import type { Pool, PoolClient } from 'pg';

/** The advisory lock namespace for conversations ("LARE"), so Lares never collides with other users' locks. */
export const CONVERSATION_LOCK_CLASS = 0x4c415245;
/** The advisory lock namespace of the tools' state ("LARS": event appends, leases), apart from conversations so no conversation id can collide with them. */
export const STATE_LOCK_CLASS = 0x4c415253;

export async function withConversationLock<T>(pool: Pool, conversationId: string, fn: () => Promise<T>): Promise<T> {
  const client: PoolClient = await pool.connect();
  let locked = false;
  try {
    await client.query('SELECT pg_advisory_lock($1::int4, hashtext($2))', [CONVERSATION_LOCK_CLASS | 0, conversationId]);
    locked = true;
    return await fn();
  } finally {
    let broken: Error | undefined;
    if (locked) {
      try {
        await client.query('SELECT pg_advisory_unlock($1::int4, hashtext($2))', [CONVERSATION_LOCK_CLASS | 0, conversationId]);
      } catch (error) {
        // a connection that could not unlock must not go back to the pool holding the lock
        broken = error as Error;
      }
    }
    client.release(broken);
  }
}
