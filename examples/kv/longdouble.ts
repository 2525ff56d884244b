/**
 * INCRBYFLOAT's arithmetic, as redis-server does it on x86-64: parse both
 * operands with strtold into an 80-bit long double (64-bit significand),
 * add, and print with "%.17Lf" minus trailing zeros (util.c, ld2string
 * LD_STR_HUMAN). JavaScript has only doubles, whose results differ
 * (10.5 + 0.1 prints 10.6 from a long double, 10.59999999999999964 from a
 * double), so values here are exact binary fractions in BigInts, rounded to
 * a 64-bit significand the way the x87 unit rounds (to nearest, ties to even).
 */

/** ±m × 2^e exactly, or an infinity / NaN. */
export interface LongDouble {
  readonly negative: boolean;
  readonly mantissa: bigint;
  readonly exponent: number;
  readonly special: 'inf' | 'nan' | null;
}

const PRECISION = 64;
/** The smallest exponent of a significand's last bit: subnormals end at 2^-16445. */
const MIN_EXP = -16445;
/** Values at or above 2^16384 overflow to infinity. */
const MAX_BITS = 16384;
/** Redis' MAX_LONG_DOUBLE_CHARS: longer numbers are refused. */
const MAX_CHARS = 5 * 1024;

const ZERO: LongDouble = { negative: false, mantissa: 0n, exponent: 0, special: null };

function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

/**
 * Rounds ±(num / den) × 2^shift to a long double (num, den > 0 integers).
 * @returns the rounded value; overflow gives an infinity, underflow zero.
 */
function round(negative: boolean, num: bigint, den: bigint, shift: number): LongDouble {
  if (num === 0n) return { ...ZERO, negative };
  // Scale so that the integer quotient has PRECISION + 2 bits or more.
  const estimate = bitLength(num) - bitLength(den);
  let k = PRECISION + 2 - estimate; // multiply by 2^k
  let exp = shift - k;
  if (exp < MIN_EXP) {
    // Subnormal (or zero): the last bit is fixed at MIN_EXP.
    k -= MIN_EXP - exp;
    exp = MIN_EXP;
  }
  const scaledNum = k >= 0 ? num << BigInt(k) : num;
  const scaledDen = k >= 0 ? den : den << BigInt(-k);
  let q = scaledNum / scaledDen;
  const r = scaledNum % scaledDen;
  // Keep PRECISION bits (fewer for subnormals), rounding the rest off.
  let extra = bitLength(q) - PRECISION;
  if (exp + Math.max(extra, 0) < MIN_EXP) extra = MIN_EXP - exp;
  if (extra > 0) {
    const dropped = q & ((1n << BigInt(extra)) - 1n);
    const half = 1n << BigInt(extra - 1);
    q >>= BigInt(extra);
    exp += extra;
    if (dropped > half || (dropped === half && (r !== 0n || (q & 1n) === 1n))) q += 1n;
  } else if (r * 2n > scaledDen || (r * 2n === scaledDen && (q & 1n) === 1n)) {
    q += 1n;
  }
  if (q === 0n) return { ...ZERO, negative };
  if (bitLength(q) + exp > MAX_BITS) return { negative, mantissa: 0n, exponent: 0, special: 'inf' };
  return { negative, mantissa: q, exponent: exp, special: null };
}

/**
 * Redis' string2ld: strtold over the whole argument, refusing a leading
 * blank, trailing bytes, overflow, underflow to zero and NaN. Accepts what
 * strtold accepts: decimal and hex (0x1.8p3) notation, inf and infinity.
 * @returns the value, or null if Redis refuses it.
 */
export function parseLongDouble(bytes: Uint8Array): LongDouble | null {
  const n = bytes.length;
  if (n === 0 || n >= MAX_CHARS) return null;
  let text = '';
  for (let i = 0; i < n; i++) {
    // strtold stops at a NUL: what follows would be trailing bytes.
    if (bytes[i] === 0) return null;
    text += String.fromCharCode(bytes[i]);
  }
  if (/^[ \t\n\v\f\r]/.test(text)) return null;
  let m = /^([+-]?)(inf|infinity)$/i.exec(text);
  if (m) return { negative: m[1] === '-', mantissa: 0n, exponent: 0, special: 'inf' };
  if (/^[+-]?nan(\([0-9A-Za-z_]*\))?$/i.test(text)) return null;
  m = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?[0-9]+))?$/.exec(text);
  if (m && (m[2] + (m[3] ?? '')).length > 0) {
    const digits = m[2] + (m[3] ?? '');
    const num = BigInt(`0x${digits}`);
    let exp = m[4] === undefined ? 0 : clampExponent(m[4]);
    exp -= 4 * (m[3] ?? '').length;
    return finish(round(m[1] === '-', num, 1n, exp), num);
  }
  m = /^([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?$/.exec(text);
  if (!m || (m[2] + (m[3] ?? '')).length === 0) return null;
  const negative = m[1] === '-';
  const digits = (m[2] + (m[3] ?? '')).replace(/^0+/, '');
  if (digits === '') return { ...ZERO, negative };
  let e10 = (m[4] === undefined ? 0 : clampExponent(m[4])) - (m[3] ?? '').length;
  const magnitude = digits.length + e10; // value < 10^magnitude
  if (magnitude > 4934) return null; // overflow: ERANGE with HUGE_VAL
  if (magnitude < -4952) return null; // underflow to zero: ERANGE
  const num = BigInt(digits);
  const result = e10 >= 0 ? round(negative, num * 10n ** BigInt(e10), 1n, 0) : round(negative, num, 10n ** BigInt(-e10), 0);
  return finish(result, num);
}

/** Overflow and underflow to zero are refused, as string2ld does. */
function finish(value: LongDouble, num: bigint): LongDouble | null {
  if (value.special === 'inf') return null;
  if (value.mantissa === 0n && num !== 0n) return null;
  return value;
}

function clampExponent(text: string): number {
  const v = Number(text);
  return Math.max(-1e6, Math.min(1e6, v));
}

/** a + b, rounded as a long double addition; infinities and NaN as IEEE 754 says. */
export function addLongDouble(a: LongDouble, b: LongDouble): LongDouble {
  if (a.special === 'nan' || b.special === 'nan') return { ...ZERO, special: 'nan' };
  if (a.special === 'inf' || b.special === 'inf') {
    if (a.special === 'inf' && b.special === 'inf' && a.negative !== b.negative) return { ...ZERO, special: 'nan' };
    return a.special === 'inf' ? a : b;
  }
  if (a.mantissa === 0n && b.mantissa === 0n) return { ...ZERO, negative: a.negative && b.negative };
  const exp = Math.min(a.exponent, b.exponent);
  const av = (a.negative ? -a.mantissa : a.mantissa) << BigInt(a.exponent - exp);
  const bv = (b.negative ? -b.mantissa : b.mantissa) << BigInt(b.exponent - exp);
  const sum = av + bv;
  if (sum === 0n) return ZERO; // x + (-x) is +0 when rounding to nearest
  return round(sum < 0n, sum < 0n ? -sum : sum, 1n, exp);
}

/** True for an infinity or NaN (INCRBYFLOAT refuses to store them). */
export function isSpecial(value: LongDouble): boolean {
  return value.special !== null;
}

/** ld2string(LD_STR_HUMAN): "%.17Lf", trailing zeros and a trailing '.' removed, "-0" as "0". */
export function formatLongDouble(value: LongDouble): string {
  if (value.special === 'inf') return value.negative ? '-inf' : 'inf';
  if (value.special === 'nan') return 'nan';
  const scale = 10n ** 17n;
  let q: bigint;
  if (value.exponent >= 0) {
    q = (value.mantissa << BigInt(value.exponent)) * scale;
  } else {
    const shift = BigInt(-value.exponent);
    const scaled = value.mantissa * scale;
    q = scaled >> shift;
    const r = scaled & ((1n << shift) - 1n);
    const half = 1n << (shift - 1n);
    if (r > half || (r === half && (q & 1n) === 1n)) q += 1n;
  }
  const integer = (q / scale).toString();
  const fraction = (q % scale).toString().padStart(17, '0').replace(/0+$/, '');
  const text = `${value.negative ? '-' : ''}${integer}${fraction ? `.${fraction}` : ''}`;
  return text === '-0' ? '0' : text;
}
