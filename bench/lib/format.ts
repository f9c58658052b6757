/** Formats milliseconds for the table: µs below 1 ms, 3 significant digits. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) < 1) return `${(value * 1000).toPrecision(3)} µs`;
  if (Math.abs(value) >= 1000) return `${(value / 1000).toPrecision(3)} s`;
  return `${value.toPrecision(3)} ms`;
}

export function ratio(value: number): string {
  return `${value.toFixed(2)}×`;
}

export function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(2)} KiB`;
}

export function count(value: number): string {
  return value.toLocaleString('en-US');
}

export function pct(share: number): string {
  return `${(share * 100).toFixed(2)} %`;
}
