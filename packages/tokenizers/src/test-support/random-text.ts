/**
 * Characters that exercise the split patterns: letters of several scripts and cases, digits,
 * whitespace of each kind, apostrophes for contractions, punctuation, combining marks, emoji and
 * CJK.
 */
const ALPHABET = [
  ...'aAbBsStTdDmMlLvVeErRzZ',
  ...'éÉßſǅΣσçÇ',
  ...'0123456789٣½²',
  ...' \t\n\r\u00a0\u2003\u3000\u000b\u000c\u0085\u2028',
  ...`'’"!?.,;:-_()[]{}<>/\\|@#$%^&*+=~\``,
  '\u0301',
  '\u0308',
  '\u094d',
  '\u200d',
  '\ufeff',
  '😀',
  '👍🏽',
  '🇫🇷',
  ...'中文字日本語한국어',
  ...'абвАБВ',
  ...'مرحباשלום',
];

/** Returns `count` random strings of up to `maxLength` characters from a seeded generator. */
export function randomTexts(count: number, maxLength: number, seed = 1): string[] {
  let state = seed >>> 0;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const texts: string[] = [];
  for (let i = 0; i < count; i++) {
    const length = Math.floor(next() * maxLength);
    let text = '';
    for (let j = 0; j < length; j++) {
      // Runs of the same character make long chunks, which the merge loop must also get right.
      const char = ALPHABET[Math.floor(next() * ALPHABET.length)];
      text += next() < 0.1 ? char.repeat(1 + Math.floor(next() * 8)) : char;
    }
    texts.push(text);
  }
  return texts;
}
