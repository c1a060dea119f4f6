/**
 * One line about what went wrong, for failure reasons and the CLI's reports.
 *
 * @module
 */

/** An error's message, or any other thrown value as a string. */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
