import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

/** The parent of `pid` from Linux's /proc, or undefined (another system, or the process is gone). */
function parentFromProc(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: the fields resume after the last ")".
    const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    return Number.isSafeInteger(parent) ? parent : undefined;
  } catch {
    return undefined;
  }
}

function parentFromPs(pid: number): number | undefined {
  try {
    const output = execFileSync("ps", ["-o", "ppid=", "-p", String(pid)], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 5000,
    });
    const parent = Number(output.trim());
    return Number.isSafeInteger(parent) && output.trim() !== "" ? parent : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

/**
 * Calls `onGone` once when the process that started this one goes away: the parent, or the
 * parent's parent, since `npx` and `npm run` put a shell between the package manager the user
 * started and the program. A process whose parent exits is handed to init or a
 * subreaper, so a changed parent id means the parent is gone, even before anyone reaps it; on
 * Linux the same holds one level up through /proc, elsewhere the processes' ids are probed.
 * `parent` is the parent as the process first saw it: read it before anything a parent may wait
 * for (a folder, a file), since a parent that goes away before the watch starts would otherwise
 * hand its successor (init, a subreaper) to the watch as the parent to follow.
 * The timer is unref'd: it never keeps the process alive. Returns a function that stops watching.
 */
export function watchParent(
  onGone: (description: string) => void,
  intervalMs = 500,
  parent: number = process.ppid,
): () => void {
  // Started by init, or already orphaned: nobody to follow.
  if (parent <= 1) return () => {};
  const fromProc = parentFromProc(parent);
  const onProc = fromProc !== undefined;
  const found = fromProc ?? parentFromPs(parent);
  const grandparent = found !== undefined && found > 1 ? found : undefined;

  const check = (): string | undefined => {
    // Windows hands orphans to no one: there the parent's id stays, and only probing tells.
    if (process.ppid !== parent || (!onProc && !isAlive(parent))) {
      return `its parent process (${parent}) exited`;
    }
    if (grandparent === undefined) return undefined;
    if (onProc) {
      const now = parentFromProc(parent);
      // undefined: the parent exited between the two reads; the next check sees it.
      return now !== undefined && now !== grandparent
        ? `the process that started its parent (${grandparent}) exited`
        : undefined;
    }
    return isAlive(grandparent)
      ? undefined
      : `the process that started its parent (${grandparent}) exited`;
  };
  const timer = setInterval(() => {
    const gone = check();
    if (gone === undefined) return;
    clearInterval(timer);
    onGone(gone);
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
