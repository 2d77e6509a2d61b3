/** The shortest run of a secret's characters that is treated as a piece of it. */
const WINDOW = 16;
const REDACTED = "[redacted]";

/**
 * Returns a function that removes `secret`, and every run of at least 16 of its characters,
 * from a text a server sent back (an error description, a correlation id, a log line), so an
 * endpoint or proxy that echoes the client assertion cannot get it into an error or a log.
 */
export function createScrubber(secret: string): (text: string) => string {
  // The whole secret and each of its dot-separated parts (a JWT's header, payload, signature).
  const wholes = [secret, ...secret.split(".")]
    .filter((part) => part.length >= 8)
    .sort((a, b) => b.length - a.length);
  const pieces = new Set<string>();
  for (let i = 0; i + WINDOW <= secret.length; i++) pieces.add(secret.slice(i, i + WINDOW));
  return (input) => {
    let text = input;
    for (const whole of wholes) if (text.includes(whole)) text = text.split(whole).join(REDACTED);
    if (text.length < WINDOW || pieces.size === 0) return text;
    let out = "";
    let copiedUpTo = 0;
    let redactedUpTo = -1;
    for (let i = 0; i + WINDOW <= text.length; i++) {
      if (!pieces.has(text.slice(i, i + WINDOW))) continue;
      if (i > redactedUpTo) {
        out += `${text.slice(copiedUpTo, i)}${REDACTED}`;
      }
      redactedUpTo = i + WINDOW - 1;
      copiedUpTo = i + WINDOW;
    }
    return copiedUpTo === 0 ? text : out + text.slice(copiedUpTo);
  };
}
