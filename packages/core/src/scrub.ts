/** The shortest run of a secret's characters that is treated as a piece of it. */
const WINDOW = 16;
const REDACTED = "[redacted]";

/** ASCII letters in lower case, every other character as is: the length never changes. */
function asciiLower(text: string): string {
  return text.replace(/[A-Z]+/g, (run) => run.toLowerCase());
}

/**
 * Returns a function that removes `secret` from a text a server sent back (an error
 * description, a correlation id, a `Location`), so an endpoint or proxy that echoes the client
 * assertion cannot get it into an error or a log. Removed, in any letter case (a URL host comes
 * back lower-cased): the whole secret, each of its dot-separated parts of 8 characters or more
 * (a JWT's header, payload and signature), and every run of 16 of its characters.
 */
export function createScrubber(secret: string): (text: string) => string {
  const lowered = asciiLower(secret);
  const wholes = [lowered, ...lowered.split(".")].filter((part) => part.length >= 8);
  const pieces = new Set<string>();
  for (let i = 0; i + WINDOW <= lowered.length; i++) pieces.add(lowered.slice(i, i + WINDOW));
  return (text) => {
    if (text.length < 8) return text;
    const haystack = asciiLower(text);
    // covered[i] is true where text[i] belongs to a piece of the secret.
    const covered = new Uint8Array(text.length);
    let found = false;
    for (const whole of wholes) {
      for (let at = haystack.indexOf(whole); at !== -1; at = haystack.indexOf(whole, at + 1)) {
        covered.fill(1, at, at + whole.length);
        found = true;
      }
    }
    for (let i = 0; i + WINDOW <= haystack.length; i++) {
      if (pieces.has(haystack.slice(i, i + WINDOW))) {
        covered.fill(1, i, i + WINDOW);
        found = true;
      }
    }
    if (!found) return text;
    let out = "";
    for (let i = 0; i < text.length; ) {
      if (covered[i] === 1) {
        while (i < text.length && covered[i] === 1) i++;
        out += REDACTED;
      } else {
        const start = i;
        while (i < text.length && covered[i] !== 1) i++;
        out += text.slice(start, i);
      }
    }
    return out;
  };
}
