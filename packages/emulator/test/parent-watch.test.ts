import { expect, it } from "vitest";
import { watchParent } from "../src/parent-watch.js";

it("a parent that went away before the watch started (the process has another parent now) is seen as gone", async () => {
  // The parent as the process first saw it; the process has been handed to another since.
  const first = 2 ** 22 + 12_345;
  expect(process.ppid).not.toBe(first);
  const said = await new Promise<string>((resolve) => {
    watchParent(resolve, 10, first);
  });
  expect(said).toBe(`its parent process (${first}) exited`);
});

it("a parent still there is not reported", async () => {
  const calls: string[] = [];
  const stop = watchParent((said) => calls.push(said), 10);
  await new Promise((resolve) => setTimeout(resolve, 100));
  stop();
  expect(calls).toEqual([]);
});
