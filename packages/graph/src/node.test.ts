import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSafetensors, writeFileAtomic, writeSafetensors } from './node.js';
import { serializeSafetensors, type TensorEntry } from './safetensors.js';

const root = mkdtempSync(join(tmpdir(), 'glassbox-node-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let directoryCount = 0;
function freshDirectory(): string {
  const directory = join(root, `case-${directoryCount++}`);
  mkdirSync(directory);
  return directory;
}

function sampleTensors(): Map<string, TensorEntry> {
  return new Map<string, TensorEntry>([
    ['wte.weight', { dtype: 'F32', shape: [2, 3], data: new Float32Array([1, -2, 3.5, 0, 1e-8, -7]) }],
    ['h.0.attn.bias', { dtype: 'U8', shape: [3], data: new Uint8Array([1, 0, 1]) }],
    ['step', { dtype: 'I64', shape: [], data: new BigInt64Array([123n]) }],
    ['half', { dtype: 'F16', shape: [2], data: new Uint16Array([0x3c00, 0xc000]) }],
  ]);
}

describe('writeSafetensors and readSafetensors', () => {
  it('round-trip tensors and metadata', async () => {
    const directory = freshDirectory();
    const path = join(directory, 'model.safetensors');
    const tensors = sampleTensors();
    await writeSafetensors(path, tensors, { format: 'pt', n_layer: '1' });

    const read = await readSafetensors(path);
    expect(read.metadata).toEqual({ format: 'pt', n_layer: '1' });
    expect(read.tensors).toEqual(tensors);
    expect(readdirSync(directory)).toEqual(['model.safetensors']);
  });

  it('write the same bytes as serializeSafetensors', async () => {
    const path = join(freshDirectory(), 'model.safetensors');
    await writeSafetensors(path, sampleTensors(), { a: 'b' });
    expect(new Uint8Array(readFileSync(path))).toEqual(serializeSafetensors(sampleTensors(), { a: 'b' }));
  });

  it('replace an existing file', async () => {
    const path = join(freshDirectory(), 'model.safetensors');
    writeFileSync(path, 'old contents');
    await writeSafetensors(path, { x: { dtype: 'I32', shape: [1], data: new Int32Array([9]) } });
    expect(Array.from((await readSafetensors(path)).tensors.get('x')!.data as Int32Array)).toEqual([9]);
  });

  it('leave the old file when the tensors are invalid', async () => {
    const directory = freshDirectory();
    const path = join(directory, 'model.safetensors');
    writeFileSync(path, 'old contents');
    const invalid = { x: { dtype: 'I32' as const, shape: [2], data: new Int32Array([9]) } };
    await expect(writeSafetensors(path, invalid)).rejects.toThrow(/tensor "x": shape \[2\] has 2 elements/);
    expect(readFileSync(path, 'utf8')).toBe('old contents');
    expect(readdirSync(directory)).toEqual(['model.safetensors']);
  });

  it('name the path when the file is missing', async () => {
    const path = join(root, 'missing.safetensors');
    await expect(readSafetensors(path)).rejects.toThrow(`Failed to open safetensors file ${path}`);
  });

  it('name the path when the file is invalid', async () => {
    const directory = freshDirectory();
    const truncatedPath = join(directory, 'truncated.safetensors');
    writeFileSync(truncatedPath, serializeSafetensors(sampleTensors()).subarray(0, 40));
    await expect(readSafetensors(truncatedPath)).rejects.toThrow(
      `Invalid safetensors data in ${truncatedPath}`,
    );

    const shortPath = join(directory, 'short.safetensors');
    writeFileSync(shortPath, new Uint8Array(3));
    await expect(readSafetensors(shortPath)).rejects.toThrow(
      `Invalid safetensors data in ${shortPath}: file is 3 bytes long`,
    );

    const bytes = serializeSafetensors(sampleTensors());
    const gapPath = join(directory, 'trailing.safetensors');
    writeFileSync(gapPath, new Uint8Array([...bytes, 0, 0]));
    await expect(readSafetensors(gapPath)).rejects.toThrow(/trailing\.safetensors: tensors cover \d+ bytes/);
  });
});

describe('writeFileAtomic', () => {
  it('writes strings as UTF-8 and bytes as they are', async () => {
    const directory = freshDirectory();
    await writeFileAtomic(join(directory, 'config.json'), '{"name": "gpt-ü"}');
    await writeFileAtomic(join(directory, 'raw.bin'), new Uint8Array([0, 255, 7]));
    expect(readFileSync(join(directory, 'config.json'), 'utf8')).toBe('{"name": "gpt-ü"}');
    expect(Array.from(readFileSync(join(directory, 'raw.bin')))).toEqual([0, 255, 7]);
    expect(readdirSync(directory).sort()).toEqual(['config.json', 'raw.bin']);
  });

  it('names the path and leaves no temporary file on failure', async () => {
    const directory = freshDirectory();
    const path = join(directory, 'no-such-directory', 'config.json');
    await expect(writeFileAtomic(path, 'x')).rejects.toThrow(`Failed to write ${path}`);
    expect(readdirSync(directory)).toEqual([]);
  });

  it('fails when the target is a directory and keeps it', async () => {
    const directory = freshDirectory();
    const target = join(directory, 'checkpoint');
    mkdirSync(target);
    await expect(writeFileAtomic(target, 'x')).rejects.toThrow(`Failed to write ${target}`);
    expect(readdirSync(directory)).toEqual(['checkpoint']);
    expect(statSync(target).isDirectory()).toBe(true);
  });
});
