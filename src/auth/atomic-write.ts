import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Replaces a file so that a reader sees the old content or the new one, never a mix, even
 * if this process dies at any instruction: write a temp file in the same directory (rename
 * is atomic only within one file system), fsync it, rename it over the target, fsync the
 * directory so the rename itself survives a power cut.
 * @param path the file to replace
 * @param data its new content
 * @param mode permission bits of the new file. Default 0o600 (owner only: it holds secrets).
 */
export async function writeFileAtomic(path: string, data: string, mode = 0o600): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  // 'wx': never follow or reuse an existing file at the temp name.
  const handle = await open(temp, 'wx', mode);
  try {
    try {
      await handle.writeFile(data, 'utf8');
      // The umask may have removed bits but never adds any; chmod makes the mode exact.
      await handle.chmod(mode);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await syncDirectory(dir);
}

/** fsyncs a directory; ignored where the platform does not support it (Windows, some FUSE). */
async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // The rename already happened; losing only its durability on exotic platforms is acceptable.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}
