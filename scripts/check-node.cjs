// Stops `pnpm install`, `pnpm test`, `pnpm build` and `pnpm demo` at once on a Node.js older than
// the root package.json's engines.node, with a message naming the version needed, instead of a
// SyntaxError deep inside a tool. It runs first, on whatever Node.js is there: ES5 and CommonJS
// only, so that an old Node can parse it.
// biome-ignore-all lint/style/useNodejsImportProtocol: "node:" needs Node 14.18.
// biome-ignore-all lint/style/useTemplate: template literals are not ES5.
// biome-ignore-all lint/complexity/useOptionalChain: optional chaining is not ES5.
"use strict";

var fs = require("fs");
var path = require("path");

/** The lowest Node.js version the root package.json accepts, from its `>=X.Y[.Z]` engines.node. */
function lowestNode() {
  var manifest = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "package.json"), "utf8"));
  var range = manifest.engines && manifest.engines.node;
  var match = /^>=\s*v?(\d+)\.(\d+)(?:\.(\d+))?$/.exec(String(range).trim());
  if (!match) {
    throw new Error("scripts/check-node.cjs reads engines.node as >=X.Y, not " + range);
  }
  return [Number(match[1]), Number(match[2]), Number(match[3] || 0)];
}

/** What to tell the user when `version` (like process.version) is too old, or null if it will do. */
function unsupportedNodeMessage(version) {
  var lowest = lowestNode();
  var parts = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version);
  var current = parts ? [Number(parts[1]), Number(parts[2]), Number(parts[3])] : [0, 0, 0];
  var i = 0;
  while (i < 3 && current[i] === lowest[i]) i++;
  if (i === 3 || current[i] > lowest[i]) return null;
  var needed = lowest[0] + "." + lowest[1] + (lowest[2] ? "." + lowest[2] : "");
  return [
    "fedcred needs Node.js " + needed + " or newer (" + needed + "+, 22 or 24); ",
    "this is Node.js " + version + " (" + process.execPath + ").\n",
    "Switch to a supported Node.js (for example `nvm install 22`) and run the command again.",
  ].join("");
}

module.exports = { unsupportedNodeMessage: unsupportedNodeMessage };

var message = require.main === module ? unsupportedNodeMessage(process.version) : null;
if (message) {
  console.error(message);
  process.exit(1);
}
