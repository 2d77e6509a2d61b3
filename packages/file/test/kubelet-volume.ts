import { mkdir, readlink, rename, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";

let serial = 0;

/**
 * Writes files the way the kubelet's AtomicWriter does: payload in a fresh `..<timestamp>`
 * folder, a `..data_tmp` symlink renamed over `..data`, user-visible names as symlinks through
 * `..data`, and the old folder deleted right after the swap.
 */
export async function writeProjected(
  directory: string,
  files: Record<string, string>,
): Promise<void> {
  const stamp = `..${new Date().toISOString().replace(/[-:.TZ]/g, "_")}${process.pid}_${++serial}`;
  await mkdir(join(directory, stamp), { recursive: true });
  for (const [name, content] of Object.entries(files))
    await writeFile(join(directory, stamp, name), content);
  let old: string | undefined;
  try {
    old = await readlink(join(directory, "..data"));
  } catch {
    old = undefined;
  }
  await symlink(stamp, join(directory, "..data_tmp"));
  await rename(join(directory, "..data_tmp"), join(directory, "..data"));
  for (const name of Object.keys(files)) {
    await symlink(join("..data", name), join(directory, name)).catch(
      (error: NodeJS.ErrnoException) => {
        if (error.code !== "EEXIST") throw error;
      },
    );
  }
  if (old) await rm(join(directory, old), { recursive: true, force: true });
}
