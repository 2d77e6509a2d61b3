export { run } from "./cli.js";
export type { CliStreams } from "./context.js";
export type { OutputStream } from "./style.js";
