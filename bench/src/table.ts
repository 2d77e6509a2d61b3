import { type Row, SECTIONS, type Section } from "./context.js";

function cell(text: string): string {
  return text.replaceAll("|", "\\|");
}

function met(value: boolean | undefined): string {
  if (value === undefined) return "";
  return value ? "yes" : "**no**";
}

/** The rows as one Markdown table, a header line per section. */
export function markdownTable(rows: readonly Row[]): string {
  const lines = [
    "| figure | fedcred | @azure/identity | ratio | target | met? |",
    "|---|---|---|---|---|---|",
  ];
  for (const section of Object.keys(SECTIONS) as Section[]) {
    const inSection = rows.filter((row) => row.section === section);
    if (inSection.length === 0) continue;
    lines.push(`| **${SECTIONS[section]}** | | | | | |`);
    for (const row of inSection) {
      lines.push(
        `| ${[row.figure, row.fedcred, row.azure, row.ratio, row.target, met(row.met)].map(cell).join(" | ")} |`,
      );
    }
  }
  return lines.join("\n");
}
