import { readdirSync, readFileSync } from 'node:fs';

/**
 * The shared data folder, `<repo>/../shared/data`: `../../../shared/data` from this package's
 * directory, which is two levels above this file.
 */
const SHARED_DATA = new URL('../../../../../shared/data/', import.meta.url);

/** Reads a UTF-8 file given by its path under the shared data folder. */
export function readSharedText(path: string): string {
  return readFileSync(new URL(path, SHARED_DATA), 'utf8');
}

/** Lists the book files of `corpora/`, sorted by name. */
export function corpusFileNames(): string[] {
  return readdirSync(new URL('corpora/', SHARED_DATA))
    .filter((name) => name.endsWith('.txt'))
    .sort();
}

export function readCorpus(name: string): string {
  return readSharedText(`corpora/${name}`);
}

/** Strings that tokenizers get wrong most easily. */
export const AWKWARD_STRINGS: readonly string[] = [
  '',
  ' ',
  'a',
  '\n',
  '\r\n\r\n',
  '   leading and trailing spaces   ',
  'tabs\tand\t\tnew\nlines\n\n\n',
  '        ',
  '\u00a0non-breaking\u2003em space\u3000ideographic space',
  'emoji 😀👍🏽 family 👨‍👩‍👧‍👦 flags 🇫🇷🇯🇵',
  '中文字符和日本語のテキスト、한국어',
  'combining: e\u0301 a\u0308 n\u0303 \u0915\u094d\u0937 Zalgo z\u0351\u0352\u0353',
  'RTL: مرحبا بالعالم שלום',
  "contractions: I'm you're he's we'll they'd can't I'VE",
  'numbers 1234567890 3.14159 1,000,000 ½ ² ٣',
  'symbols !@#$%^&*()_+-=[]{}|;\':",./<>?`~ ... --- ***',
  '\u0000\u0001\u001f\u007f control characters',
  '\ufeffbyte order mark at the start',
  'astral 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𐍈 and private use \ue000\uf8ff',
  'a'.repeat(1000),
  ' '.repeat(300),
  'x'.repeat(200) + ' ' + '😀'.repeat(100),
  '<|endoftext|> looks like a special token',
];
