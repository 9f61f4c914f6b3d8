import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

describe('package layout', () => {
  it('imports node modules only in node.ts', () => {
    // The main entry must run in browsers, so only the ./node entry may use Node.js built-ins.
    const sourceDirectory = new URL('./', import.meta.url);
    const libraryFiles = readdirSync(sourceDirectory).filter(
      (name) => name.endsWith('.ts') && !name.endsWith('.test.ts') && name !== 'node.ts',
    );
    expect(libraryFiles).toContain('index.ts');
    for (const name of libraryFiles) {
      const source = readFileSync(new URL(name, sourceDirectory), 'utf8');
      expect(source, name).not.toMatch(/from ['"]node:|require\(|from ['"](fs|path|os|crypto)['"]/);
    }
  });
});
