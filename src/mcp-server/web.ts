// fetch_url and read_rss_feed: http(s) only, a size cap on what is read, a timeout,
// HTML reduced to text, RSS 2.0 and Atom parsed with fast-xml-parser.
import { XMLParser } from 'fast-xml-parser';
import { ToolInputError } from './tool-error.ts';

export const FETCH_MAX_BYTES = 2 * 1024 * 1024;
export const FETCH_MAX_TEXT = 40_000;
const FETCH_TIMEOUT_MS = 20_000;

async function fetchCapped(url: string, accept: string): Promise<{ body: string; contentType: string; truncated: boolean; finalUrl: string }> {
  let parsed: URL;
  try { parsed = new URL(url); } catch { throw new ToolInputError(`url: not a valid URL: ${url}`); }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ToolInputError(`url: only http and https URLs can be fetched, not ${parsed.protocol}`);
  let response: Response;
  try {
    response = await fetch(parsed, { headers: { accept, 'user-agent': 'Lares/0.1 (+self-hosted agent)' }, redirect: 'follow', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  } catch (error) {
    throw new ToolInputError(`could not fetch ${url}: ${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message}`);
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new ToolInputError(`fetching ${url} failed: HTTP ${response.status} ${response.statusText}`);
  }
  const chunks: Uint8Array[] = [];
  let total = 0; let truncated = false;
  if (response.body) {
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (total + value.length > FETCH_MAX_BYTES) {
        chunks.push(value.subarray(0, FETCH_MAX_BYTES - total)); truncated = true;
        await reader.cancel();
        break;
      }
      chunks.push(value); total += value.length;
    }
  }
  return { body: Buffer.concat(chunks).toString('utf8'), contentType: response.headers.get('content-type') ?? '', truncated, finalUrl: response.url || url };
}

export async function fetchUrlTool(args: { url: string; max_chars?: number }): Promise<string> {
  const { body, contentType, truncated, finalUrl } = await fetchCapped(args.url, 'text/html,text/plain,application/xhtml+xml,*/*;q=0.5');
  const isHtml = /html|xml/.test(contentType) || /^\s*<(!doctype|html)/i.test(body);
  const text = isHtml ? htmlToText(body) : body;
  const limit = Math.min(args.max_chars ?? FETCH_MAX_TEXT, FETCH_MAX_TEXT);
  const clipped = text.length > limit ? `${text.slice(0, limit)}\n[truncated at ${limit} characters]` : text;
  return `${finalUrl} (${contentType || 'unknown type'})${truncated ? ` [download stopped at ${FETCH_MAX_BYTES} bytes]` : ''}\n\n${clipped}`;
}

export function htmlToText(html: string): string {
  const title = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(html)?.[1];
  let text = html
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<(script|style|noscript|template|svg|head)\b[\s\S]*?<\/\1\s*>/gi, '')
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/(p|div|section|article|li|tr|h[1-6]|blockquote|pre|ul|ol|table|header|footer)\s*>/gi, '\n')
    .replace(/<li\b[^>]*>/gi, '- ')
    .replace(/<[^>]+>/g, '');
  text = decodeEntities(text)
    .split('\n').map((line) => line.replace(/[ \t\f\v\u00a0]+/g, ' ').trim()).join('\n')
    .replace(/\n{3,}/g, '\n\n').trim();
  return title ? `${decodeEntities(title).trim()}\n\n${text}` : text;
}

function decodeEntities(text: string): string {
  const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', mdash: '—', ndash: '–', hellip: '…', rsquo: '’', lsquo: '‘', rdquo: '”', ldquo: '“' };
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (match, code: string) => {
    if (code[0] === '#') {
      const n = code[1] === 'x' || code[1] === 'X' ? parseInt(code.slice(2), 16) : parseInt(code.slice(1), 10);
      return Number.isFinite(n) && n > 0 && n <= 0x10ffff ? String.fromCodePoint(n) : match;
    }
    return named[code.toLowerCase()] ?? match;
  });
}

export interface FeedItem { title: string; link?: string; published?: string; summary?: string }

export async function readRssFeedTool(args: { url: string; limit?: number }): Promise<string> {
  const { body, finalUrl } = await fetchCapped(args.url, 'application/rss+xml,application/atom+xml,application/xml,text/xml;q=0.9,*/*;q=0.5');
  const feed = parseFeed(body);
  const items = feed.items.slice(0, Math.max(1, Math.min(args.limit ?? 10, 50)));
  const lines = [`${feed.title ?? finalUrl} (${feed.format}, ${feed.items.length} items, showing ${items.length})`];
  items.forEach((item, i) => {
    lines.push(`\n${i + 1}. ${item.title}`);
    if (item.published) lines.push(`   published: ${item.published}`);
    if (item.link) lines.push(`   link: ${item.link}`);
    if (item.summary) lines.push(`   ${item.summary}`);
  });
  return lines.join('\n');
}

export function parseFeed(xml: string): { format: 'RSS' | 'Atom'; title?: string; items: FeedItem[] } {
  const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@_', textNodeName: '#text', processEntities: true, htmlEntities: true });
  let doc: Record<string, any>;
  try { doc = parser.parse(xml) as Record<string, any>; } catch (error) {
    throw new ToolInputError(`the feed is not valid XML: ${(error as Error).message}`);
  }
  const list = (v: unknown): any[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
  const text = (v: unknown): string | undefined => {
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'object') return text((v as Record<string, unknown>)['#text']);
    return String(v);
  };
  const summary = (v: unknown) => { const t = text(v); return t ? htmlToText(t).replace(/\s+/g, ' ').slice(0, 300) : undefined; };
  if (doc.rss?.channel) {
    const channel = doc.rss.channel;
    return {
      format: 'RSS', title: text(channel.title),
      items: list(channel.item).map((item) => ({ title: text(item.title) ?? '(untitled)', link: text(item.link), published: text(item.pubDate) ?? text(item['dc:date']), summary: summary(item.description) })),
    };
  }
  if (doc.feed) {
    const feed = doc.feed;
    const linkOf = (entry: any): string | undefined => {
      const links = list(entry.link);
      const preferred = links.find((l) => typeof l === 'object' && (l['@_rel'] === undefined || l['@_rel'] === 'alternate')) ?? links[0];
      return typeof preferred === 'object' ? preferred['@_href'] : text(preferred);
    };
    return {
      format: 'Atom', title: text(feed.title),
      items: list(feed.entry).map((entry) => ({ title: text(entry.title) ?? '(untitled)', link: linkOf(entry), published: text(entry.published) ?? text(entry.updated), summary: summary(entry.summary ?? entry.content) })),
    };
  }
  if (doc['rdf:RDF']) {
    const rdf = doc['rdf:RDF'];
    return { format: 'RSS', title: text(rdf.channel?.title), items: list(rdf.item).map((item) => ({ title: text(item.title) ?? '(untitled)', link: text(item.link), published: text(item['dc:date']), summary: summary(item.description) })) };
  }
  throw new ToolInputError('the document is neither an RSS nor an Atom feed (no <rss><channel> or <feed> element)');
}
