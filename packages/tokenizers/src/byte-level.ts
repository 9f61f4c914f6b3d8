/**
 * GPT-2's reversible mapping from bytes to printable Unicode characters (`bytes_to_unicode` in
 * OpenAI's `encoder.py`). Printable Latin-1 bytes map to themselves and the other 68 bytes map to
 * U+0100 onwards, so a space becomes `Ġ` and a newline `Ċ`. Hugging Face `tokenizer.json` files store
 * byte-level tokens in this form.
 */
function buildByteToChar(): string[] {
  const table = new Array<string>(256);
  const printable = (byte: number) =>
    (byte >= 0x21 && byte <= 0x7e) || (byte >= 0xa1 && byte <= 0xac) || (byte >= 0xae && byte <= 0xff);
  let shifted = 0;
  for (let byte = 0; byte < 256; byte++) {
    if (printable(byte)) {
      table[byte] = String.fromCharCode(byte);
    } else {
      table[byte] = String.fromCharCode(256 + shifted);
      shifted++;
    }
  }
  return table;
}

const BYTE_TO_CHAR: readonly string[] = buildByteToChar();
const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_CHAR.map((char, byte) => [char, byte]));

/** Converts token bytes to their byte-level string form, such as `Ġthe` for the bytes of " the". */
export function bytesToTokenString(bytes: Uint8Array): string {
  let result = '';
  for (const byte of bytes) result += BYTE_TO_CHAR[byte];
  return result;
}

/**
 * Converts a byte-level token string back to its bytes, or returns `undefined` when the string
 * contains a character outside the 256 characters of the byte-level alphabet.
 */
export function tokenStringToBytes(token: string): Uint8Array | undefined {
  const bytes = new Uint8Array(token.length);
  for (let i = 0; i < token.length; i++) {
    const byte = CHAR_TO_BYTE.get(token[i]);
    if (byte === undefined) return undefined;
    bytes[i] = byte;
  }
  return bytes;
}

/** Converts bytes to a string of one char code (0-255) per byte, a compact map key for byte sequences. */
export function bytesToKey(bytes: Uint8Array): string {
  let key = '';
  for (const byte of bytes) key += String.fromCharCode(byte);
  return key;
}

export function concatBytes(left: Uint8Array, right: Uint8Array): Uint8Array {
  const result = new Uint8Array(left.length + right.length);
  result.set(left, 0);
  result.set(right, left.length);
  return result;
}
