/**
 * Makes room in `map` for one more entry: when it holds `max`, removes its oldest entry (Map
 * order is insertion order), never the one under `keep`, and returns what it removed so the
 * caller can close it.
 */
export function evictOldest<K, V>(map: Map<K, V>, max: number, keep?: K): V | undefined {
  if (map.size < max) return undefined;
  for (const [key, value] of map) {
    if (key === keep) continue;
    map.delete(key);
    return value;
  }
  return undefined;
}
