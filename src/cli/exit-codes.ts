/**
 * Exit codes shared by every sgpods command (CONVENTIONS.md): 0 success, 1 a negative answer
 * (denied, not found, demo failed), 2 bad input or usage, 3 an internal error.
 */
export const exitCodes = {
  success: 0,
  negative: 1,
  badInput: 2,
  internal: 3,
} as const;

export type ExitCode = (typeof exitCodes)[keyof typeof exitCodes];
