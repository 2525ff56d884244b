/**
 * Domain names in presentation format (RFC 1035 §5.1): labels joined by
 * dots, absolute names end with a dot, the root is ".". A label may hold any
 * byte, so dots, backslashes and unprintable bytes inside a label are escaped
 * (`\.`, `\\`, `\DDD`); that keeps every wire name representable as a string
 * and lets two names be compared by comparing strings.
 */

/** Longest name on the wire, length octets and root label included (RFC 1035 §3.1). */
export const MAX_NAME_LENGTH = 255;
/** Longest label (RFC 1035 §2.3.4); the two high bits of a length octet mean something else. */
export const MAX_LABEL_LENGTH = 63;

/** Bytes that stand for themselves in presentation format; everything else is escaped. */
function plain(byte: number): boolean {
  return byte > 0x20 && byte < 0x7f && byte !== 0x2e && byte !== 0x5c && byte !== 0x22 && byte !== 0x28 && byte !== 0x29 && byte !== 0x3b;
}

/** Formats wire labels as a name with its trailing dot. */
export function labelsToName(labels: readonly Uint8Array[]): string {
  if (labels.length === 0) return '.';
  let out = '';
  for (const label of labels) {
    for (const byte of label) {
      if (plain(byte)) out += String.fromCharCode(byte);
      else if (byte === 0x2e || byte === 0x5c || byte === 0x22 || byte === 0x28 || byte === 0x29 || byte === 0x3b) out += `\\${String.fromCharCode(byte)}`;
      else out += `\\${byte.toString().padStart(3, '0')}`;
    }
    out += '.';
  }
  return out;
}

/**
 * Splits a name into its labels' bytes, undoing escapes. A missing trailing
 * dot is tolerated (the name is taken as absolute).
 * @throws RangeError for an empty or over-long label, a name over 255 bytes,
 *   a bad escape or a character outside printable ASCII.
 */
export function nameToLabels(name: string): Buffer[] {
  if (name === '.' || name === '') return [];
  const labels: Buffer[] = [];
  let current: number[] = [];
  let wire = 1; // the root label's length octet
  const endLabel = () => {
    if (current.length === 0) throw new RangeError(`empty label in name "${name}"`);
    if (current.length > MAX_LABEL_LENGTH) throw new RangeError(`label longer than ${MAX_LABEL_LENGTH} bytes in name "${name}"`);
    wire += current.length + 1;
    labels.push(Buffer.from(current));
    current = [];
  };
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x2e) {
      endLabel();
    } else if (c === 0x5c) {
      const digits = name.slice(i + 1, i + 4);
      if (/^[0-9]{3}$/.test(digits)) {
        const value = Number(digits);
        if (value > 255) throw new RangeError(`bad escape \\${digits} in name "${name}"`);
        current.push(value);
        i += 3;
      } else {
        const next = name.charCodeAt(i + 1);
        if (!(next > 0x20 && next < 0x7f)) throw new RangeError(`bad escape in name "${name}"`);
        current.push(next);
        i += 1;
      }
    } else if (c > 0x20 && c < 0x7f) {
      current.push(c);
    } else {
      throw new RangeError(`character ${JSON.stringify(name[i])} must be escaped in name "${name}"`);
    }
  }
  if (current.length > 0) endLabel();
  if (wire > MAX_NAME_LENGTH) throw new RangeError(`name "${name}" is longer than ${MAX_NAME_LENGTH} bytes`);
  return labels;
}

/**
 * The form two names are compared in: canonical escapes, ASCII lower case
 * (RFC 4343: DNS compares names case-insensitively, and only A-Z fold).
 */
export function nameKey(name: string): string {
  return labelsToName(nameToLabels(name)).toLowerCase();
}

/** True if `name` equals `zone` or lies below it. */
export function isSubdomain(name: string, zone: string): boolean {
  const n = nameToLabels(name);
  const z = nameToLabels(zone);
  if (z.length > n.length) return false;
  const offset = n.length - z.length;
  return z.every((label, i) => asciiLower(label).equals(asciiLower(n[offset + i])));
}

/** The name one label up ("www.example.test." → "example.test."), or null at the root. */
export function parentName(name: string): string | null {
  const labels = nameToLabels(name);
  return labels.length === 0 ? null : labelsToName(labels.slice(1));
}

/** Copies a label with A-Z folded to a-z; other bytes are left alone. */
export function asciiLower(label: Uint8Array): Buffer {
  const out = Buffer.from(label);
  for (let i = 0; i < out.length; i++) if (out[i] >= 0x41 && out[i] <= 0x5a) out[i] += 0x20;
  return out;
}
