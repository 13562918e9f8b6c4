// An error a tool reports to the caller as-is: bad input, refused path, not found.
// Anything else thrown by a tool is reported with its message but logged as a fault.
export class ToolInputError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ToolInputError';
  }
}
