// Whether a process of this machine runs: a row or mark left by a process that is gone can be
// taken over at once (EPERM means it runs, as another user).
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
