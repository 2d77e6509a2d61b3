/**
 * The part of the workspace's lockfile a fresh project of `roots` needs: the snapshots reachable
 * from every version of each root package, and their packages; no importers. pnpm resolves the
 * project's dependencies to the versions it holds, which the store has (the workspace's install
 * put them there), so an offline install needs no registry; and pnpm's checks of the lockfile
 * meet only packages the project reaches (a seed of the whole lockfile made pnpm ask for the
 * registry metadata of packages the project never uses, such as a Redis client's dependencies).
 * An optional peer the lockfile holds would be installed too: `without` leaves packages out.
 *
 * pnpm-lock.yaml holds two YAML documents (pnpm's own, then the workspace's) of top-level keys,
 * whose entries are keys indented by two spaces.
 */
export function lockfileSeed(lockfile: string, roots: string[], without: string[] = []): string {
  const workspace = lockfile.split(/^---$/m).pop() ?? "";
  const sections = workspace.split(/^(?=\S)/m);
  const section = (key: string): string =>
    sections.find((text) => text.startsWith(`${key}:`)) ?? "";
  const entries = (key: string): string[] =>
    section(key)
      .split(/^(?= {2}\S)/m)
      .slice(1);
  // "  name@version:" or "  'name@version(peer@version)': {}"
  const idOf = (entry: string): string => {
    const match = /^ {2}(?:'([^']+)'|([^\s:]+)):/.exec(entry);
    return match?.[1] ?? match?.[2] ?? "";
  };
  const nameOf = (id: string): string => id.slice(0, id.indexOf("@", 1));
  const snapshots = new Map<string, { entry: string; dependencies: string[] }>();
  for (const entry of entries("snapshots")) {
    const dependencies: string[] = [];
    let inDependencies = false;
    for (const line of entry.split("\n").slice(1)) {
      if (/^ {4}(dependencies|optionalDependencies):/.test(line)) inDependencies = true;
      else if (/^ {4}\S/.test(line)) inDependencies = false;
      else if (inDependencies) {
        const match = /^ {6}'?([^':]+)'?: '?([^']+)'?$/.exec(line);
        if (match) dependencies.push(`${match[1]}@${match[2]}`);
      }
    }
    snapshots.set(idOf(entry), { entry, dependencies });
  }
  const kept = new Set<string>();
  const queue = [...snapshots.keys()].filter((id) => roots.includes(nameOf(id)));
  while (queue.length > 0) {
    const id = queue.pop() as string;
    if (kept.has(id) || !snapshots.has(id) || without.includes(nameOf(id))) continue;
    kept.add(id);
    queue.push(...(snapshots.get(id)?.dependencies ?? []));
  }
  const keptPackages = new Set([...kept].map((id) => id.replace(/\(.*$/, "")));
  return [
    section("lockfileVersion"),
    section("settings"),
    "importers:\n\n  .: {}\n\n",
    "packages:\n\n",
    entries("packages")
      .filter((entry) => keptPackages.has(idOf(entry)))
      .join(""),
    "snapshots:\n\n",
    [...kept].map((id) => snapshots.get(id)?.entry).join(""),
  ].join("");
}
