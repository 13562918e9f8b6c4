// `lares import`: reads an export file back into an EMPTY store, ids kept, in one transaction.
// A truncated, reordered or invalid file is refused and nothing is written.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { LaresError } from '../errors.ts';
import type { MemoryStore } from '../memory/store.ts';
import { EXPORT_FORMAT, EXPORT_SECTIONS, EXPORT_VERSION, emptyCounts, recordToRow, type ExportCounts, type ExportKind } from './export-format.ts';
import { assertEmptyStore, openTableWriter, type TableRow } from './store-tables.ts';

export interface ExportFileRecord {
  kind: ExportKind | 'header' | 'end';
  data: Record<string, unknown>;
  /** where in the file, for error messages */
  where: string;
}

const KINDS = new Set<string>(EXPORT_SECTIONS.map((s) => s.kind));

function bad(message: string): LaresError {
  return new LaresError('USAGE', message, { exitCode: 1 });
}

/**
 * Reads an export file as records in file order: JSON lines are streamed line by line, a JSON
 * document is read whole. `-` reads standard input, so `lares export | lares import -` works
 * (pipes cannot be peeked at, so the format is told from the first line as it streams by).
 */
export async function* readExportFile(path: string): AsyncGenerator<ExportFileRecord> {
  const name = path === '-' ? 'standard input' : path;
  let input: NodeJS.ReadableStream;
  if (path === '-') {
    input = process.stdin;
  } else {
    const stream = createReadStream(path, 'utf8');
    // surface "cannot open" as a clear error before any line is read
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', (error) => reject(bad(`cannot read ${path}: ${error.message}`)));
    });
    input = stream;
  }
  const reader = createInterface({ input, crlfDelay: Infinity });
  try {
    yield* readRecords(name, reader[Symbol.asyncIterator]());
  } finally {
    // also when the import stops early (a bad record): release the file
    reader.close();
    if (path !== '-') (input as ReturnType<typeof createReadStream>).destroy();
  }
}

async function* readRecords(name: string, lines: AsyncIterator<string>): AsyncGenerator<ExportFileRecord> {
  let first = await lines.next();
  let n = 1;
  while (!first.done && first.value.trim() === '') { first = await lines.next(); n++; }
  if (first.done) throw bad(`${name} is empty: expected a Lares export (lares export writes one)`);
  let firstValue: any;
  try { firstValue = JSON.parse(first.value); } catch { firstValue = undefined; }
  if (firstValue?.type === 'header') {
    yield* jsonlRecords(name, first.value, n, lines);
    return;
  }
  const rest: string[] = [first.value];
  for (let next = await lines.next(); !next.done; next = await lines.next()) rest.push(next.value);
  let document: any;
  try {
    document = JSON.parse(rest.join('\n'));
  } catch (error) {
    throw bad(`${name} is neither a Lares JSON export nor JSON lines: ${(error as Error).message}`);
  }
  if (typeof document !== 'object' || document === null) throw bad(`${name} is not a Lares export (expected a JSON object)`);
  const { counts, ...header } = document;
  for (const section of EXPORT_SECTIONS) delete header[section.jsonKey];
  yield { kind: 'header', data: header, where: `${name} (header)` };
  for (const section of EXPORT_SECTIONS) {
    const list = document[section.jsonKey] ?? [];
    if (!Array.isArray(list)) throw bad(`${name}: "${section.jsonKey}" must be an array`);
    for (let i = 0; i < list.length; i++) yield { kind: section.kind, data: list[i], where: `${name} ${section.jsonKey}[${i}]` };
  }
  if (counts !== undefined) yield { kind: 'end', data: { counts }, where: `${name} (counts)` };
}

async function* jsonlRecords(name: string, firstLine: string, firstNumber: number, lines: AsyncIterator<string>): AsyncGenerator<ExportFileRecord> {
  let n = firstNumber;
  let line: string | undefined = firstLine;
  while (line !== undefined) {
    if (line.trim() !== '') {
      let value: any;
      try {
        value = JSON.parse(line);
      } catch (error) {
        throw bad(`${name}:${n}: not valid JSON (${(error as Error).message})`);
      }
      const { type, ...data } = value ?? {};
      if (type !== 'header' && type !== 'end' && !KINDS.has(type)) throw bad(`${name}:${n}: unknown record type ${JSON.stringify(type)}`);
      yield { kind: type, data, where: `${name}:${n}` };
    }
    const next = await lines.next();
    line = next.done ? undefined : next.value;
    n++;
  }
}

export interface ImportOptions {
  batchSize?: number;
  onProgress?: (kind: ExportKind, done: number) => void;
}

/** Imports records into an empty store; returns how many of each kind were written. */
export async function importStore(store: MemoryStore, records: AsyncIterable<ExportFileRecord>, options: ImportOptions = {}): Promise<ExportCounts> {
  await assertEmptyStore(store, `the ${store.kind} store`);
  const batchSize = options.batchSize ?? 2000;
  const order = EXPORT_SECTIONS.map((s) => s.kind);
  const counts = emptyCounts();
  const writer = await openTableWriter(store);
  let sawHeader = false;
  let sawEnd = false;
  let position = 0;
  let batch: TableRow[] = [];
  let batchKind: ExportKind | undefined;
  const flush = async () => {
    if (batchKind && batch.length > 0) {
      await writer.insert(EXPORT_SECTIONS[order.indexOf(batchKind)].table, batch);
      options.onProgress?.(batchKind, counts[batchKind]);
    }
    batch = [];
  };
  try {
    for await (const record of records) {
      if (record.kind === 'header') {
        if (sawHeader) throw bad(`${record.where}: a second header`);
        if (record.data.format !== EXPORT_FORMAT) throw bad(`${record.where}: not a Lares export (format is ${JSON.stringify(record.data.format)}, expected "${EXPORT_FORMAT}")`);
        if (typeof record.data.version !== 'number' || record.data.version > EXPORT_VERSION) {
          throw bad(`${record.where}: export format version ${String(record.data.version)} is newer than this Lares reads (${EXPORT_VERSION}); update Lares`);
        }
        sawHeader = true;
        continue;
      }
      if (!sawHeader) throw bad(`${record.where}: the file must start with the export header`);
      if (sawEnd) throw bad(`${record.where}: records after the end record`);
      if (record.kind === 'end') {
        await flush();
        const expected = record.data.counts as Record<string, unknown> | undefined;
        for (const kind of order) {
          if (expected?.[kind] !== counts[kind]) {
            throw bad(`${record.where}: the file says it holds ${String(expected?.[kind])} ${kind} records but ${counts[kind]} were read; the file is damaged`);
          }
        }
        sawEnd = true;
        continue;
      }
      const index = order.indexOf(record.kind);
      if (index < position) throw bad(`${record.where}: ${record.kind} records must come before ${order[position]} records (order: ${order.join(', ')})`);
      if (record.kind !== batchKind) { await flush(); batchKind = record.kind; position = index; }
      batch.push(recordToRow(record.kind, record.data, record.where));
      counts[record.kind]++;
      if (batch.length >= batchSize) await flush();
    }
    if (!sawHeader) throw bad('the file is empty or not a Lares export');
    if (!sawEnd) throw bad('the file ends without its end record: it is truncated; nothing was imported');
    await writer.commit();
    return counts;
  } catch (error) {
    await writer.rollback().catch(() => {});
    if (error instanceof LaresError) throw error;
    throw new LaresError('STORE_ERROR', `import failed, nothing was imported: ${(error as Error).message}`, { cause: error });
  }
}
