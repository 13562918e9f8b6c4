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

/** A date typed by a person or the model (2026-01-31, or ISO 8601) as a stored time; a bare date covers its whole day. */
export function isoDate(value: string, endOfDay: boolean): string {
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(value.trim());
  const date = new Date(dateOnly ? `${value.trim()}T${endOfDay ? '23:59:59.999' : '00:00:00.000'}Z` : value);
  if (Number.isNaN(date.getTime())) throw new RangeError(`"${value}" is not a date; use ISO 8601 like 2026-01-31 or 2026-01-31T14:00:00Z`);
  return date.toISOString();
}
