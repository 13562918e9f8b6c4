// Whether the process that left a row or mark is gone, so what it held can be taken over at once.
// A pid alone is not enough: after a reboot it names another process, and in a container with the
// host's name it names a process of another pid namespace. So a process is known by host, boot,
// pid namespace and pid; only where all of those can be compared is it declared gone.
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

function read(fn: () => string): string {
  try { return fn().trim(); } catch { return ''; }
}

const BOOT_ID = read(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8'));
const PID_NAMESPACE = read(() => readlinkSync('/proc/self/ns/pid'));

/** This process, as `host|boot|pid namespace|pid`. */
export function processIdentity(): string {
  return [hostname(), BOOT_ID, PID_NAMESPACE, process.pid].join('|');
}

/**
 * True only when the process named by `identity` certainly no longer runs: same host and a later
 * boot, or same host, boot and pid namespace with no such pid. Anything else (another host, an
 * unknown namespace, an unreadable identity) is treated as alive.
 */
export function processGone(identity: string | null | undefined): boolean {
  const [host, boot, namespace, pidText] = (identity ?? '').split('|');
  const pid = Number(pidText);
  if (!host || host !== hostname() || !Number.isInteger(pid) || pid <= 0) return false;
  if (boot && BOOT_ID && boot !== BOOT_ID) return true;
  if (boot !== BOOT_ID || namespace !== PID_NAMESPACE || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'EPERM';
  }
}
