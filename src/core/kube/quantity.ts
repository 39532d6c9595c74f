/**
 * Kubernetes resource quantities (`500m`, `1`, `256Mi`, `1Gi`, `2k`, `1e3`), as
 * apimachinery's `resource.Quantity` reads them, in thousandths of the base unit so sums and
 * comparisons stay exact for everything the scheduler compares.
 */

const binary: Readonly<Record<string, bigint>> = {
  Ki: 1n << 10n,
  Mi: 1n << 20n,
  Gi: 1n << 30n,
  Ti: 1n << 40n,
  Pi: 1n << 50n,
  Ei: 1n << 60n,
};

const decimalExponents: Readonly<Record<string, number>> = {
  n: -9,
  u: -6,
  m: -3,
  '': 0,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};

const pattern = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei)|([numkMGTPE]?)|[eE]([+-]?\d+))$/;

/** A decimal string times 10^exponent, in thousandths, rounded up (as Quantity rounds). */
function scaled(number: string, exponent: number): bigint {
  const negative = number.startsWith('-');
  const [whole = '0', fraction = ''] = number.replace(/^[+-]/, '').split('.');
  const digits = BigInt(`${whole}${fraction}` || '0');
  const power = exponent + 3 - fraction.length;
  let value: bigint;
  if (power >= 0) value = digits * 10n ** BigInt(power);
  else {
    const divisor = 10n ** BigInt(-power);
    value = digits / divisor + (digits % divisor === 0n ? 0n : 1n);
  }
  return negative ? -value : value;
}

/** Thousandths of the base unit (millicores for cpu, millibytes for memory), or undefined. */
export function parseQuantity(text: string): bigint | undefined {
  const match = pattern.exec(text.trim());
  if (!match?.[1]) return undefined;
  const [, number, binarySuffix, decimalSuffix, exponent] = match;
  if (binarySuffix) {
    return scaled(number, 0) * (binary[binarySuffix] ?? 1n);
  }
  if (exponent !== undefined) return scaled(number, Number(exponent));
  return scaled(number, decimalExponents[decimalSuffix ?? ''] ?? 0);
}
