// Times are stored as UTC ISO 8601 with milliseconds ("2026-11-26T02:03:04.005Z"),
// so string order is time order.
export function nowIso(): string {
  return new Date().toISOString();
}

export function toIso(value: string | number | Date): string {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) throw new RangeError(`not a valid time: ${String(value)}`);
  return date.toISOString();
}
