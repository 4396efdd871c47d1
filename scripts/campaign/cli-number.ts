/** A numeric command-line option of a campaign script, at least `min`; anything else ends the script with exit 2. */
export function numberOption(script: string, name: string, value: string, min: number): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < min) {
    console.error(`${script}: --${name} must be a number >= ${min}`);
    process.exit(2);
  }
  return n;
}
