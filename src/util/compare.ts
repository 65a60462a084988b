/** Orders strings by UTF-16 code units (as Array.prototype.sort does), independent of locale. */
export function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
