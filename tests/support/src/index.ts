export { type Azurite, startAzurite } from "./azurite.js";
export { type ModuleRun, runModule } from "./node-module.js";
