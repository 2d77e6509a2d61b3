import { visibleLength } from "./style.js";

/**
 * Columns padded to their widest cell (ANSI colour codes do not count), two spaces apart, under
 * a rule. A cell may hold several lines (`\n`): its row is as tall as its tallest cell.
 */
export function renderTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const split = rows.map((row) => headers.map((_, column) => (row[column] ?? "").split("\n")));
  const widths = headers.map((header, column) =>
    Math.max(
      visibleLength(header),
      ...split.flatMap((cells) => (cells[column] ?? []).map(visibleLength)),
    ),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => cell + " ".repeat((widths[column] ?? 0) - visibleLength(cell)))
      .join("  ")
      .trimEnd();
  const lines = [line(headers), widths.map((width) => "─".repeat(width)).join("  ")];
  for (const cells of split) {
    const height = Math.max(...cells.map((cell) => cell.length));
    for (let index = 0; index < height; index++) {
      lines.push(line(cells.map((cell) => cell[index] ?? "")));
    }
  }
  return lines.join("\n");
}
