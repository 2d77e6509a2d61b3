export { type Azurite, startAzurite } from "./azurite.js";
export { lockfileSeed } from "./lockfile-seed.js";
export { type ModuleRun, runModule } from "./node-module.js";
