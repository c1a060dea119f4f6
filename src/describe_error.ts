/**
 * One line about what went wrong, for failure reasons and the CLI's reports,
 * and about a value received, for the messages of argument errors.
 *
 * @module
 */

/** A received value for an error message: strings quoted, others as text. */
export function describeValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "function") return "a function";
  if (typeof value === "bigint") return `${value}n`;
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** An error's message, or any other thrown value as a string. */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
