// Node.js file access for checkpoints: safetensors reading and writing, and atomic file replacement.

import { randomBytes } from 'node:crypto';
import { type FileHandle, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import {
  createTensorData,
  fixByteOrderAfterRead,
  littleEndianBytes,
  parseSafetensorsHeader,
  parseSafetensorsHeaderLength,
  type SafetensorsFile,
  serializeSafetensorsHeader,
  type TensorEntry,
} from './safetensors.js';

// Node.js rejects single reads and writes above 2^31 - 1 bytes, so large tensors move in chunks.
const MAX_CHUNK_BYTES = 2 ** 30;

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Reads exactly `target.length` bytes at `position`, because one `read` call may return fewer. */
async function readExactly(
  handle: FileHandle,
  target: Uint8Array,
  position: number,
  path: string,
): Promise<void> {
  let done = 0;
  while (done < target.length) {
    const length = Math.min(target.length - done, MAX_CHUNK_BYTES);
    const { bytesRead } = await handle.read(target, done, length, position + done);
    if (bytesRead === 0) {
      throw new Error(
        `Failed to read ${path}: the file ended at byte ${position + done}, expected ${position + target.length} bytes`,
      );
    }
    done += bytesRead;
  }
}

/**
 * Reads a safetensors file, validating the header before loading any tensor. Each tensor is read
 * straight into its own typed array, so the file is never held in memory twice. This also reads files
 * above the 2 GiB limit of Node's `readFile`. Errors name `path`.
 */
export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw new Error(`Failed to open safetensors file ${path}: ${describeError(error)}`, { cause: error });
  }
  try {
    const { size } = await handle.stat();
    const lengthField = new Uint8Array(Math.min(8, size));
    await readExactly(handle, lengthField, 0, path);
    const prefixLength = 8 + parseSafetensorsHeaderLength(lengthField, size, path);

    const prefix = new Uint8Array(prefixLength);
    await readExactly(handle, prefix, 0, path);
    const header = parseSafetensorsHeader(prefix, size, path);

    const tensors = new Map<string, TensorEntry>();
    for (const info of header.tensors) {
      const { data, bytes } = createTensorData(info);
      await readExactly(handle, bytes, header.dataStart + info.begin, path);
      fixByteOrderAfterRead(info, bytes);
      tensors.set(info.name, { dtype: info.dtype, shape: info.shape, data });
    }
    return { tensors, metadata: header.metadata };
  } finally {
    await handle.close();
  }
}

async function syncDirectory(directory: string): Promise<void> {
  // Windows cannot open a directory for fsync, and NTFS makes the rename durable on its own.
  if (process.platform === 'win32') return;
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes a file through a temporary file in the same directory (`<path>.tmp-<pid>-<random>`), flushes
 * it to disk and renames it over `path`. A crash therefore leaves either the old file or the complete
 * new one, plus possibly a stray temporary file. `write` receives the open temporary file.
 */
async function replaceAtomically(path: string, write: (handle: FileHandle) => Promise<void>): Promise<void> {
  const directory = dirname(path);
  const temporaryPath = join(
    directory,
    `${basename(path)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`,
  );
  let handle: FileHandle | undefined;
  try {
    handle = await open(temporaryPath, 'wx');
    await write(handle);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temporaryPath, path);
  } catch (error) {
    if (handle !== undefined) await handle.close().catch(() => undefined);
    // The temporary file may not exist when open failed, so a failed unlink is expected here.
    await unlink(temporaryPath).catch(() => undefined);
    throw new Error(`Failed to write ${path}: ${describeError(error)}`, { cause: error });
  }
  try {
    await syncDirectory(directory);
  } catch (error) {
    throw new Error(`Wrote ${path} but failed to flush its directory ${directory}: ${describeError(error)}`, {
      cause: error,
    });
  }
}

/** Writes `data` (a string is written as UTF-8) to `path` atomically, replacing any existing file. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  await replaceAtomically(path, async (handle) => {
    await writeAll(handle, bytes);
  });
}

async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const length = Math.min(bytes.length - done, MAX_CHUNK_BYTES);
    const { bytesWritten } = await handle.write(bytes, done, length);
    done += bytesWritten;
  }
}

/**
 * Writes tensors and string metadata as a safetensors file, atomically (see `writeFileAtomic`). The
 * tensors are validated before the file is created and streamed one by one, without building the
 * whole file in memory.
 */
export async function writeSafetensors(
  path: string,
  tensors: Map<string, TensorEntry> | Record<string, TensorEntry>,
  metadata: Record<string, string> = {},
): Promise<void> {
  const { header, ordered } = serializeSafetensorsHeader(tensors, metadata);
  await replaceAtomically(path, async (handle) => {
    await writeAll(handle, header);
    for (const [, entry] of ordered) await writeAll(handle, littleEndianBytes(entry));
  });
}
