/** Whether `value` is an object with string keys: not null and not an array (what a JSON object decodes to). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
