/**
 * Redis' glob matching (util.c, stringmatchlen), ported byte for byte for
 * KEYS, SCAN MATCH, PSUBSCRIBE, PUBSUB CHANNELS and CONFIG GET: `*`, `?`,
 * `[abc]`, `[^a-z]`, `\x`. Its edge cases are Redis' too: an unclosed `[`
 * runs to the end of the pattern, ranges compare signed chars (bytes 0x80 and
 * up are negative, as `char` is on x86), and a failed `*` stops trying longer
 * matches for earlier stars, so patterns like `a*a*a*a*b` cost linear time.
 */

const lowerByte = (c: number): number => (c >= 0x41 && c <= 0x5a ? c + 0x20 : c);
const signed = (c: number): number => (c >= 0x80 ? c - 0x100 : c);

/** True if `string` matches `pattern` (both raw bytes). */
export function globMatch(pattern: Uint8Array, string: Uint8Array, nocase = false): boolean {
  const state = { skipLonger: false };
  return match(pattern, 0, pattern.length, string, 0, string.length, nocase, state);
}

/** {@link globMatch} on latin1 strings (keys and channel names). */
export function globMatchString(pattern: Uint8Array, string: string, nocase = false): boolean {
  return globMatch(pattern, Buffer.from(string, 'latin1'), nocase);
}

function match(pattern: Uint8Array, p: number, pLen: number, string: Uint8Array, s: number, sLen: number, nocase: boolean, state: { skipLonger: boolean }): boolean {
  // p/s index the next byte; pLen/sLen count what is left, as in the C code.
  // Reading past the pattern's end yields 0, as the C string's terminator does.
  const pat = (i: number) => (i < pattern.length ? pattern[i] : 0);
  while (pLen > 0 && sLen > 0) {
    switch (pat(p)) {
      case 0x2a /* * */: {
        while (pLen > 0 && pat(p + 1) === 0x2a) {
          p++;
          pLen--;
        }
        if (pLen === 1) return true;
        while (sLen > 0) {
          if (match(pattern, p + 1, pLen - 1, string, s, sLen, nocase, state)) return true;
          if (state.skipLonger) return false;
          s++;
          sLen--;
        }
        state.skipLonger = true;
        return false;
      }
      case 0x3f /* ? */:
        s++;
        sLen--;
        break;
      case 0x5b /* [ */: {
        p++;
        pLen--;
        const not = pat(p) === 0x5e;
        if (not) {
          p++;
          pLen--;
        }
        let matched = false;
        for (;;) {
          if (pat(p) === 0x5c && pLen >= 2) {
            p++;
            pLen--;
            if (pat(p) === string[s]) matched = true;
          } else if (pat(p) === 0x5d) {
            break;
          } else if (pLen === 0) {
            p--;
            pLen++;
            break;
          } else if (pLen >= 3 && pat(p + 1) === 0x2d) {
            let start = signed(pat(p));
            let end = signed(pat(p + 2));
            let c = signed(string[s]);
            if (start > end) [start, end] = [end, start];
            if (nocase) {
              start = lowerByte(start);
              end = lowerByte(end);
              c = lowerByte(c);
            }
            p += 2;
            pLen -= 2;
            if (c >= start && c <= end) matched = true;
          } else if (!nocase) {
            if (pat(p) === string[s]) matched = true;
          } else if (lowerByte(pat(p)) === lowerByte(string[s])) {
            matched = true;
          }
          p++;
          pLen--;
        }
        if (not) matched = !matched;
        if (!matched) return false;
        s++;
        sLen--;
        break;
      }
      default: {
        // `\x` matches x literally (a trailing `\` matches itself).
        if (pat(p) === 0x5c && pLen >= 2) {
          p++;
          pLen--;
        }
        if (!nocase) {
          if (pat(p) !== string[s]) return false;
        } else if (lowerByte(pat(p)) !== lowerByte(string[s])) {
          return false;
        }
        s++;
        sLen--;
        break;
      }
    }
    p++;
    pLen--;
    if (sLen === 0) {
      while (pat(p) === 0x2a) {
        p++;
        pLen--;
      }
      break;
    }
  }
  return pLen === 0 && sLen === 0;
}
