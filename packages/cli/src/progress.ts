import type { OutputStream, Style } from "./style.js";
import { formatElapsed } from "./time.js";

/** One task on the progress stream. */
export interface Task {
  done(): void;
  fail(reason: string): void;
}

/** Progress of a long job on stderr: a spinner on a TTY, plain lines otherwise. */
export interface Progress {
  start(label: string): Task;
}

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

export function createProgress(stream: OutputStream, style: Style, prefix: string): Progress {
  const interactive = stream.isTTY === true;
  return {
    start(label) {
      const started = performance.now();
      let frame = 0;
      let timer: NodeJS.Timeout | undefined;
      if (interactive) {
        const draw = (): void => {
          stream.write(
            `\r\u001b[K${style.cyan(FRAMES[frame++ % FRAMES.length] as string)} ${label}`,
          );
        };
        draw();
        timer = setInterval(draw, 80);
        timer.unref();
      } else {
        stream.write(`${prefix}${label}...\n`);
      }
      const finish = (text: string): void => {
        if (timer !== undefined) clearInterval(timer);
        const elapsed = style.dim(`(${formatElapsed(performance.now() - started)})`);
        stream.write(`${interactive ? "\r\u001b[K" : prefix}${text} ${elapsed}\n`);
      };
      return {
        done: () => finish(`${style.green("✓")} ${label}`),
        fail: (reason) => finish(`${style.red("✗")} ${label}: ${reason}`),
      };
    },
  };
}
