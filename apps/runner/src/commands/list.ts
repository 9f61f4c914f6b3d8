import { EXPERIMENTS } from '../experiments/registry.js';
import type { Experiment } from '../experiments/types.js';

/** Formats rows as a plain-text table with columns padded to their widest cell. */
export function formatTextTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column].length)),
  );
  const format = (cells: readonly string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column]))
      .join('  ')
      .trimEnd();
  return [format(header), format(widths.map((width) => '-'.repeat(width))), ...rows.map(format)].join('\n');
}

/** Returns the `glassbox list` table: id, title, course section, needs and typical run time. */
export function listExperiments(experiments: readonly Experiment[] = EXPERIMENTS): string {
  const rows = experiments.map((experiment) => [
    experiment.id,
    experiment.title,
    experiment.section.split('.')[0],
    experiment.needs.join(', '),
    experiment.typicalTime,
  ]);
  return `${formatTextTable(['id', 'title', 'section', 'needs', 'time'], rows)}\n`;
}

export function listUsage(): string {
  return ['Usage: glassbox list', '', 'Lists the course experiments that glassbox run executes.', ''].join(
    '\n',
  );
}
