import type { RunParams, RunResults } from './run-experiment.js';
import type { Experiment, JsonValue, ResultTable } from './types.js';

/** Maximum number of array items shown in a report. Longer arrays are cut there, and results.json keeps them whole. */
const MAX_LIST_ITEMS = 30;

/** Formats a number for a report: integers as they are, other numbers with 4 significant digits. */
export function formatNumber(value: number): string {
  if (Number.isInteger(value)) return String(value);
  if (!Number.isFinite(value)) return String(value);
  return Number(value.toPrecision(4)).toString();
}

function formatValue(value: JsonValue): string {
  if (value === null) return 'null';
  if (typeof value === 'number') return formatNumber(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) {
    const shown = value.slice(0, MAX_LIST_ITEMS).map(formatValue).join(', ');
    const rest = value.length > MAX_LIST_ITEMS ? `, ... (${value.length} items)` : '';
    return `[${shown}${rest}]`;
  }
  const entries = Object.entries(value);
  const shown = entries
    .slice(0, MAX_LIST_ITEMS)
    .map(([key, item]) => `${/^[\w.-]+$/.test(key) ? key : JSON.stringify(key)}: ${formatValue(item)}`)
    .join(', ');
  const rest = entries.length > MAX_LIST_ITEMS ? `, ... (${entries.length} entries)` : '';
  return `{${shown}${rest}}`;
}

function escapeCell(value: string | number): string {
  const text = typeof value === 'number' ? formatNumber(value) : value;
  return text.replace(/\|/g, '\\|').replace(/\n/g, '\\n');
}

function formatTable(table: ResultTable): string[] {
  return [
    `### ${table.title}`,
    '',
    `| ${table.columns.map(escapeCell).join(' | ')} |`,
    `| ${table.columns.map(() => '---').join(' | ')} |`,
    ...table.rows.map((row) => `| ${row.map(escapeCell).join(' | ')} |`),
    '',
  ];
}

/** Builds report.md: the parameters, the notes, every result, the tables and the figures by relative link. */
export function formatReport(experiment: Experiment, params: RunParams, results: RunResults): string {
  const lines = [
    `# ${experiment.title}`,
    '',
    `Experiment \`${experiment.id}\`, course section ${experiment.section}. Seed ${params.seed}, run in ${formatNumber(results.elapsedSeconds)} s.`,
    '',
    experiment.description,
    '',
    '## Parameters',
    '',
  ];
  const paramEntries = Object.entries(params.params);
  if (paramEntries.length === 0) lines.push('None.');
  for (const [key, value] of paramEntries) lines.push(`- ${key}: ${formatValue(value as JsonValue)}`);
  if (params.corpus !== undefined) lines.push(`- corpus: ${params.corpus.join(', ')}`);
  if (params.model !== undefined) lines.push(`- model: ${params.model}`);
  lines.push('');
  if (results.notes !== undefined && results.notes.length > 0) {
    lines.push('## Notes', '');
    for (const note of results.notes) lines.push(`- ${note}`);
    lines.push('');
  }
  lines.push('## Results', '');
  for (const [key, value] of Object.entries(results.results)) lines.push(`- ${key}: ${formatValue(value)}`);
  lines.push('');
  for (const table of results.tables ?? []) lines.push(...formatTable(table));
  if (results.figures.length > 0) {
    lines.push('## Figures', '');
    for (const name of results.figures) lines.push(`![${name}](${name}.png)`, '', `[SVG](${name}.svg)`, '');
  }
  return `${lines.join('\n').trimEnd()}\n`;
}
