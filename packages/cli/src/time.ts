/** A span of seconds for people: "45 s", "12 min", "1 h 5 min", "2 d 3 h". */
export function formatDuration(seconds: number): string {
  const total = Math.round(Math.abs(seconds));
  if (total < 90) return `${total} s`;
  const minutes = Math.round(total / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) {
    const rest = minutes % 60;
    return rest === 0 ? `${hours} h` : `${hours} h ${rest} min`;
  }
  const days = Math.floor(hours / 24);
  const restHours = hours % 24;
  return restHours === 0 ? `${days} d` : `${days} d ${restHours} h`;
}

/** A time relative to now: "in 57 min", "3 min ago", "now". */
export function formatRelative(epochSeconds: number, nowSeconds: number): string {
  const delta = epochSeconds - nowSeconds;
  if (Math.abs(delta) < 1) return "now";
  return delta > 0 ? `in ${formatDuration(delta)}` : `${formatDuration(delta)} ago`;
}

/** An epoch time in seconds as ISO 8601 UTC without milliseconds, or why it is not one. */
export function formatEpoch(epochSeconds: number): string {
  const date = new Date(epochSeconds * 1000);
  if (Number.isNaN(date.getTime())) return "(not a time)";
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

const pad = (value: number, width = 2): string => String(value).padStart(width, "0");

/**
 * The `expiresOn` of `az account get-access-token`: local time, "YYYY-MM-DD HH:MM:SS.ffffff"
 * (Python's `str(datetime.fromtimestamp(...))` with microseconds).
 */
export function formatAzExpiresOn(epochMs: number): string {
  const date = new Date(epochMs);
  const micros = (epochMs - Math.floor(epochMs / 1000) * 1000) * 1000;
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(Math.round(micros), 6)}`
  );
}

/** Milliseconds for people: "87 ms", "2.4 s". */
export function formatElapsed(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
