/** A compact JWT, as the web identity token file or a token in an echoed request holds one. */
const JWT = /eyJ[\w-]*\.[\w-]*\.[\w-]*/g;
/** The environment's secrets, which a provider or server could echo. */
const SECRET_VARIABLES = ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"] as const;

/**
 * What an error said, fit for a message: its first line only, and short, with anything shaped
 * like a JWT and the environment's secret key and session token cut out. AWS may append the
 * canonical request (session token included) to a signature refusal, and a credentials provider
 * may print what it fetched below its first line: those lines never get here.
 */
export function quotedMessage(error: unknown): string {
  const message = (error as { message?: unknown } | null)?.message;
  let line = (typeof message === "string" ? message : "").split(/\r?\n/, 1)[0]?.trim() ?? "";
  line = line.replace(JWT, "[a token]");
  for (const name of SECRET_VARIABLES) {
    const secret = process.env[name];
    if (secret && secret.length >= 8) line = line.split(secret).join(`[${name}]`);
  }
  return line.length > 400 ? `${line.slice(0, 400)}...` : line;
}

/** The error's `name` when it has one (the SDK names service errors after their code). */
export function errorName(error: unknown): string {
  const name = (error as { name?: unknown } | null)?.name;
  return typeof name === "string" && name !== "" ? name : "Error";
}

/** `Name: first line` for a message, or the first line alone when it names the error already. */
export function namedMessage(error: unknown): string {
  const name = errorName(error);
  const said = quotedMessage(error);
  if (said.includes(name)) return said;
  return said ? `${name}: ${said}` : name;
}
