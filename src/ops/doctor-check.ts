// One line of `lares doctor`: what was found and, when it failed, the one-line fix.

export type CheckStatus = 'ok' | 'fail' | 'skip';

export interface DoctorCheck {
  /** stable id for scripts: 'node', 'data_dir', 'database', 'anthropic', 'letta', 'mcp', 'approvals', 'discord', 'telegram' … */
  id: string;
  status: CheckStatus;
  /** a failed required check makes doctor exit 1; optional ones only warn */
  required: boolean;
  /** what was found, one line */
  message: string;
  /** what to do, one line (failures only) */
  fix?: string;
}

export const ok = (id: string, message: string, required = true): DoctorCheck => ({ id, status: 'ok', required, message });
export const fail = (id: string, message: string, fix: string, required = true): DoctorCheck => ({ id, status: 'fail', required, message, fix });
export const skip = (id: string, message: string): DoctorCheck => ({ id, status: 'skip', required: false, message });

