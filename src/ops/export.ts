// `lares export`: writes every table of a store in the documented export format, streaming
// page by page from one consistent snapshot, so a million messages never sit in memory.
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { MemoryStore } from '../memory/store.ts';
import { nowIso } from '../time.ts';
import { EXPORT_FORMAT, EXPORT_SECTIONS, EXPORT_VERSION, emptyCounts, rowToRecord, type ExportCounts, type ExportHeader } from './export-format.ts';
import { openTableReader, tableSpec } from './store-tables.ts';

export type ExportFileFormat = 'json' | 'jsonl';

export interface ExportOptions {
  format?: ExportFileFormat;
  /** rows read per query */
  pageSize?: number;
  /** fixed export time (tests compare two exports byte for byte) */
  exportedAt?: string;
}

async function write(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain');
}

/** Writes the whole store to `out` and returns how many records of each kind it wrote. */
export async function exportStore(store: MemoryStore, out: Writable, options: ExportOptions = {}): Promise<ExportCounts> {
  const format = options.format ?? 'jsonl';
  const pageSize = options.pageSize ?? 2000;
  const header: ExportHeader = { format: EXPORT_FORMAT, version: EXPORT_VERSION, exportedAt: options.exportedAt ?? nowIso(), source: store.kind };
  const counts = emptyCounts();
  const reader = await openTableReader(store);
  try {
    if (format === 'jsonl') await write(out, `${JSON.stringify({ type: 'header', ...header })}\n`);
    else await write(out, `${JSON.stringify(header).slice(0, -1)}`);
    for (const section of EXPORT_SECTIONS) {
      if (format === 'json') await write(out, `,\n${JSON.stringify(section.jsonKey)}: [`);
      const spec = tableSpec(section.table);
      let afterId = 0;
      for (;;) {
        const rows = await reader.page(section.table, afterId, pageSize);
        let chunk = '';
        for (const row of rows) {
          const record = rowToRecord(section.kind, row);
          chunk += format === 'jsonl'
            ? `${JSON.stringify({ type: section.kind, ...record })}\n`
            : `${counts[section.kind] === 0 ? '\n' : ',\n'}${JSON.stringify(record)}`;
          counts[section.kind]++;
        }
        if (chunk) await write(out, chunk);
        if (spec.key === 'none' || rows.length < pageSize) break;
        afterId = Number(rows[rows.length - 1].id);
      }
      if (format === 'json') await write(out, counts[section.kind] === 0 ? ']' : '\n]');
    }
    // the closing record lets an import notice a truncated file
    if (format === 'jsonl') await write(out, `${JSON.stringify({ type: 'end', counts })}\n`);
    else await write(out, `,\n"counts": ${JSON.stringify(counts)}\n}\n`);
  } finally {
    await reader.close();
  }
  return counts;
}
