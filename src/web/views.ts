// The console's pages as server-rendered HTML. Every value from the store, the model or a tool
// goes through `h`, which escapes it; the only script is /static/console.js.
import type { ContentBlock, ToolResultBlock } from '../llm/content.ts';
import type { BlockVersion, MemoryBlock, Passage, StoredMessage, Summary } from '../memory/store.ts';
import type { ApprovalRecord } from '../mcp-server/approvals.ts';
import { describeCall } from '../mcp-server/approvals.ts';
import type { Job } from '../mcp-server/scheduler.ts';
import type { MessageHit } from '../recall/recall.ts';
import type { ContextReport } from '../app/context-report.ts';
import type { UsageReport } from '../llm/usage-report.ts';
import { stackedBars } from './chart.ts';
import { diffLines } from './diff.ts';
import { h, type Safe } from './html.ts';

export const PAGES = [
  { path: '/', label: 'Chat' },
  { path: '/memory', label: 'Memory' },
  { path: '/approvals', label: 'Approvals' },
  { path: '/history', label: 'History' },
  { path: '/cost', label: 'Context & cost' },
  { path: '/jobs', label: 'Jobs' },
] as const;

export function layout(options: { title: string; active?: string; csrf?: string; body: Safe }): string {
  const nav = options.csrf === undefined ? '' : h`<nav aria-label="Pages"><ul>${PAGES.map((p) => h`<li><a href="${p.path}"${p.path === options.active ? h` aria-current="page"` : ''}>${p.label}</a></li>`)}</ul>
    <form method="post" action="/logout" class="logout">${csrfField(options.csrf)}<button type="submit">Log out</button></form></nav>`;
  return h`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${options.title} · Lares</title>
${options.csrf === undefined ? '' : h`<meta name="csrf-token" content="${options.csrf}">`}
<link rel="icon" href="/static/icon.svg" type="image/svg+xml"><link rel="stylesheet" href="/static/console.css"><script src="/static/console.js" defer></script></head>
<body><header><a class="brand" href="/">Lares</a>${nav}</header>
<main id="main"><h1>${options.title}</h1>${options.body}</main></body></html>`.value;
}

export function csrfField(csrf: string | undefined): Safe {
  return h`<input type="hidden" name="_csrf" value="${csrf ?? ''}">`;
}

export function loginPage(options: { tokenLogin: boolean; error?: string }): string {
  const body = h`${options.error ? h`<p class="error" role="alert">${options.error}</p>` : ''}
    ${options.tokenLogin
      ? h`<form method="post" action="/login" class="card"><label for="token">Console token (LARES_WEB_TOKEN)</label>
        <input id="token" name="token" type="password" autocomplete="current-password" required>
        <button type="submit">Log in</button></form>`
      : ''}
    <p>Or run <code>npx lares web --login-link</code> on the Lares machine and open the link it prints (it works once, for 15 minutes).</p>`;
  return layout({ title: 'Log in', body });
}

export function loginLinkPage(code: string): string {
  return layout({
    title: 'Log in',
    body: h`<form method="post" action="/login/link" class="card"><input type="hidden" name="code" value="${code}">
      <p>Log in to this Lares console with the one-time link?</p><button type="submit">Log in</button></form>`,
  });
}

export function errorPage(status: number, message: string, csrf?: string): string {
  return layout({ title: status === 404 ? 'Not found' : 'Cannot do that', csrf, body: h`<p class="error" role="alert">${message}</p><p><a href="/">Back to the console</a></p>` });
}

/** News that is not a failure (an approval decided already). */
export function noticePage(title: string, message: string, csrf?: string): string {
  return layout({ title, csrf, body: h`<p class="notice" role="status">${message}</p><p><a href="/approvals">Approvals</a> · <a href="/">Back to the chat</a></p>` });
}

// ---- chat

function textOf(content: ToolResultBlock['content']): string {
  if (typeof content === 'string') return content;
  return content.map((b) => (b.type === 'text' ? b.text : `[${b.type}]`)).join('\n');
}

function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

export function toolCallView(call: { name: string; input: unknown; result?: { text: string; isError: boolean } }): Safe {
  return h`<details class="tool"><summary>tool <code>${call.name}</code>${call.result?.isError ? h` <span class="badge bad">error</span>` : ''}</summary>
    <div class="label">arguments</div><pre>${json(call.input)}</pre>
    ${call.result ? h`<div class="label">result</div><pre>${call.result.text}</pre>` : h`<p class="muted">no result yet</p>`}</details>`;
}

/** Messages in order, tool calls folded with their results; messages that hold only tool results render nothing. */
export function messagesView(messages: StoredMessage[]): Safe {
  const results = new Map<string, { text: string; isError: boolean }>();
  for (const m of messages) for (const b of m.blocks) if (b.type === 'tool_result') results.set(b.tool_use_id, { text: textOf(b.content), isError: b.is_error === true });
  return h`${messages.map((m) => {
    const parts = m.blocks.map((b: ContentBlock) => {
      if (b.type === 'text') return h`<div class="text">${b.text}</div>`;
      if (b.type === 'tool_use') return toolCallView({ name: b.name, input: b.input, result: results.get(b.id) });
      if (b.type === 'image') return h`<p class="muted">[image]</p>`;
      return '';
    }).filter((p) => p !== '');
    if (parts.length === 0) return '';
    const source = typeof m.metadata?.channel === 'string' ? m.metadata.channel : undefined;
    return h`<article class="msg ${m.role}" data-id="${m.id}"><header><span class="role">${m.role === 'assistant' ? 'Lares' : m.role}</span>${source ? h` <span class="muted">via ${source}</span>` : ''} <time datetime="${m.createdAt}">${m.createdAt.slice(0, 16).replace('T', ' ')}</time></header>${parts}</article>`;
  })}`;
}

export function approvalCard(a: ApprovalRecord, csrf: string): Safe {
  return h`<div class="card approval" data-approval="${a.id}"><p><strong>${describeCall(a.tool, a.args)}</strong></p>
    <p class="muted">id ${a.id} · ${a.reason} · expires ${a.expiresAt.slice(0, 16).replace('T', ' ')}</p>
    <details><summary>arguments</summary><pre>${json(a.args)}</pre></details>
    <div class="actions">
      <form method="post" action="/approvals/${a.id}/approve">${csrfField(csrf)}<button type="submit" class="ok">Approve</button></form>
      ${a.tool === 'run_shell_command' ? h`<form method="post" action="/approvals/${a.id}/approve">${csrfField(csrf)}<input type="hidden" name="always" value="true"><button type="submit">Always allow this exact command</button></form>` : ''}
      <form method="post" action="/approvals/${a.id}/deny" class="deny">${csrfField(csrf)}<input name="reason" placeholder="reason (optional)" aria-label="reason for denying"><button type="submit" class="bad">Deny</button></form>
    </div></div>`;
}

export function pendingView(pending: ApprovalRecord[], csrf: string): Safe {
  return h`<div id="pending" data-live="/fragments/pending">${pending.length === 0 ? h`<p class="muted">No approvals waiting.</p>` : pending.map((a) => approvalCard(a, csrf))}</div>`;
}

export function chatPage(options: { messages: StoredMessage[]; pending: ApprovalRecord[]; csrf: string }): string {
  return layout({
    title: 'Chat', active: '/', csrf: options.csrf,
    body: h`<section id="log" aria-live="polite" data-live="/fragments/messages" data-newest="${options.messages.at(-1)?.id ?? 0}">${messagesView(options.messages)}</section>
      <section aria-label="Waiting for your approval"><h2>Waiting for your approval</h2>${pendingView(options.pending, options.csrf)}</section>
      <form id="chat-form" method="post" action="/chat" class="composer">${csrfField(options.csrf)}
        <label for="message" class="visually-hidden">Message</label>
        <textarea id="message" name="message" rows="3" required placeholder="Talk to Lares…"></textarea>
        <button type="submit">Send</button></form>`,
  });
}

// ---- memory

export function memoryPage(options: { blocks: MemoryBlock[]; passages: Passage[]; query?: string; csrf: string }): string {
  const blocks = options.blocks.map((b) => {
    const path = `/memory/block/${encodeURIComponent(b.label)}`;
    // a block already over its limit (e.g. migrated) may still be edited down: the browser must not refuse it
    const maxLength = Math.max(b.charLimit, b.content.length);
    return h`<section class="card block" id="block-${b.label}"><h2>${b.label} <span class="muted">${b.content.length} / ${b.charLimit} chars${b.readOnly ? ' · read-only' : ''}</span></h2>
    <meter min="0" max="${b.charLimit}" value="${b.content.length}" aria-label="${b.label} characters used"></meter>
    ${b.description ? h`<p class="muted">${b.description}</p>` : ''}
    <form method="post" action="${path}">${csrfField(options.csrf)}<input type="hidden" name="updatedAt" value="${b.updatedAt}">
      <label for="content-${b.label}" class="visually-hidden">${b.label} content</label>
      <textarea id="content-${b.label}" name="content" rows="6" maxlength="${maxLength}"${b.readOnly ? h` readonly` : ''}>${b.content}</textarea>
      <div class="actions">${b.readOnly ? '' : h`<button type="submit">Save ${b.label}</button>`} <a href="${path}/history">History</a></div></form></section>`;
  });
  const passages = h`<section class="card"><h2>Archival memory</h2>
    <form method="get" action="/memory" class="inline"><label for="q">Search passages</label> <input id="q" name="q" value="${options.query ?? ''}"> <button type="submit">Search</button></form>
    <form method="post" action="/memory/passages" class="add">${csrfField(options.csrf)}<label for="passage">New passage</label><textarea id="passage" name="text" rows="2" required></textarea>
      <label for="tags">Tags (comma-separated)</label><input id="tags" name="tags"><button type="submit">Add passage</button></form>
    <ul class="passages">${options.passages.map((p) => h`<li><div class="text">${p.text}</div><p class="muted">#${p.id} · ${p.createdAt.slice(0, 10)}${p.tags.length ? ` · ${p.tags.join(', ')}` : ''}</p>
      <form method="post" action="/memory/passages/${p.id}/delete">${csrfField(options.csrf)}<button type="submit" class="bad" aria-label="Delete passage ${p.id}">Delete</button></form></li>`)}</ul>
    ${options.passages.length === 0 ? h`<p class="muted">No passages${options.query ? ' match' : ''}.</p>` : ''}</section>`;
  return layout({ title: 'Memory', active: '/memory', csrf: options.csrf, body: h`${blocks}${passages}` });
}

export function blockHistoryPage(options: { label: string; versions: BlockVersion[]; csrf: string }): string {
  const items = options.versions.map((v, i) => {
    const before = i > 0 ? options.versions[i - 1].content : '';
    const lines = diffLines(before, v.content).filter((l) => l.kind !== 'same');
    return { v, lines };
  }).reverse();
  const body = h`<p><a href="/memory">← Memory</a></p><ol class="history">${items.map(({ v, lines }) => h`<li class="card"><p><strong>${v.actor}</strong> <time datetime="${v.createdAt}">${v.createdAt.replace('T', ' ').slice(0, 19)}</time></p>
    <pre class="diff">${lines.length === 0 ? '(no change)' : lines.map((l) => h`<span class="${l.kind}">${l.kind === 'added' ? '+ ' : '- '}${l.text}</span>\n`)}</pre></li>`)}</ol>
    ${options.versions.length === 0 ? h`<p class="muted">No history.</p>` : ''}`;
  return layout({ title: `History of ${options.label}`, active: '/memory', csrf: options.csrf, body });
}

// ---- approvals

export function approvalsPage(options: { pending: ApprovalRecord[]; recent?: ApprovalRecord[]; csrf: string }): string {
  return layout({
    title: 'Approvals', active: '/approvals', csrf: options.csrf,
    body: h`<h2>Pending</h2>${pendingView(options.pending, options.csrf)}<h2>Recent decisions</h2><div data-live="/fragments/recent">${recentView(options.recent)}</div>`,
  });
}

export function recentView(recent: ApprovalRecord[] | undefined): Safe {
  if (!recent) return h`<p class="muted">This approval queue keeps no record of decisions.</p>`;
  if (recent.length === 0) return h`<p class="muted">No decisions yet.</p>`;
  const badge = (status: string) => (status === 'executed' ? 'good' : status === 'denied' || status === 'failed' ? 'bad' : '');
  return h`<table><thead><tr><th>call</th><th>status</th><th>decided</th></tr></thead><tbody>${recent.map((a) => h`<tr><td>${describeCall(a.tool, a.args)}${a.alwaysAllowed ? h` <span class="badge">always allowed</span>` : ''}${a.denyReason ? h` <span class="muted">(${a.denyReason})</span>` : ''}</td><td><span class="badge ${badge(a.status)}">${a.status}</span></td><td>${(a.decidedAt ?? a.expiresAt).slice(0, 16).replace('T', ' ')}</td></tr>`)}</tbody></table>`;
}

// ---- history

export interface HistoryQuery { q?: string; role?: string; since?: string; until?: string; mode?: string }

export function historyPage(options: { query: HistoryQuery; hits?: MessageHit[]; summaries: Summary[]; csrf: string }): string {
  const q = options.query;
  const form = h`<form method="get" action="/history" class="card search"><div class="field wide"><label for="hq">Search the whole history</label>
    <input id="hq" name="q" value="${q.q ?? ''}" required></div>
    <div class="field"><label for="role">Role</label><select id="role" name="role"><option value="">any</option>${['user', 'assistant', 'system'].map((r) => h`<option${q.role === r ? h` selected` : ''}>${r}</option>`)}</select></div>
    <div class="field"><label for="since">From</label><input id="since" name="since" type="date" value="${q.since ?? ''}"></div>
    <div class="field"><label for="until">To</label><input id="until" name="until" type="date" value="${q.until ?? ''}"></div>
    <div class="field"><label for="mode">Search by</label><select id="mode" name="mode"><option value="hybrid">keywords and meaning</option><option value="keyword"${q.mode === 'keyword' ? h` selected` : ''}>keywords only</option></select></div>
    <div class="field"><button type="submit">Search</button></div></form>`;
  const hits = options.hits === undefined ? '' : options.hits.length === 0 ? h`<p class="muted">No messages match.</p>` : h`<ol class="hits">${options.hits.map((hit) => h`<li class="card"><p class="muted">#${hit.id} · ${hit.role} · ${hit.createdAt.slice(0, 16).replace('T', ' ')}${hit.compacted ? ' · compacted' : ''}</p>
      ${hit.before.map((t) => h`<p class="context">${t.role}: ${t.content.slice(0, 300)}</p>`)}<div class="text hit">${hit.content.slice(0, 1200)}</div>${hit.after.map((t) => h`<p class="context">${t.role}: ${t.content.slice(0, 300)}</p>`)}
      <a href="/history/messages/${hit.id}">Open in context</a></li>`)}</ol>`;
  const summaries = h`<h2>Summaries</h2>${options.summaries.length === 0 ? h`<p class="muted">No summaries yet (compaction writes them).</p>` : h`<ol class="summaries">${options.summaries.map((s) => h`<li class="card"><p class="muted">#${s.id} · ${s.createdAt.slice(0, 10)} · messages ${s.startMessageId ?? '?'}–${s.endMessageId ?? '?'}${s.startMessageId !== null ? h` · <a href="/history/messages/${s.startMessageId}">open</a>` : ''}</p><details><summary>${s.summary.slice(0, 160)}</summary><div class="text">${s.summary}</div></details></li>`)}</ol>`}`;
  return layout({ title: 'History', active: '/history', csrf: options.csrf, body: h`${form}${hits}${summaries}` });
}

export function messageContextPage(options: { id: number; messages: StoredMessage[]; csrf: string }): string {
  return layout({
    title: `Message #${options.id} in context`, active: '/history', csrf: options.csrf,
    body: h`<p><a href="/history">← History</a></p><section class="log">${messagesView(options.messages)}</section>`,
  }).replace(`data-id="${options.id}"`, `data-id="${options.id}" id="focus" tabindex="-1"`);
}

// ---- context and cost

export function costPage(options: { context?: ContextReport; usage: UsageReport; days: string[]; budgetUsd?: number; csrf: string }): string {
  const c = options.context;
  const parts = c ? (['tools', 'system', 'blocks', 'summary', 'messages'] as const) : [];
  const contextView = c ? h`<section class="card"><h2>The next request (${c.model})</h2>
    <table><tbody>${parts.map((p) => h`<tr><th scope="row">${p}</th><td class="num">${c.tokens[p]}</td><td><meter min="0" max="${c.contextLimit}" value="${c.tokens[p]}" aria-label="${p} tokens"></meter></td></tr>`)}
    <tr><th scope="row">total</th><td class="num">${c.tokens.total}</td><td>${((100 * c.tokens.total) / c.contextLimit).toFixed(1)}% of ${c.contextLimit}</td></tr></tbody></table>
    <p>Compaction at <strong>${c.compactAt}</strong> tokens, down to ${c.compactTarget}. ${c.messagesInContext} messages in context of ${c.storedMessages} stored (${c.compactedMessages} compacted into ${c.summaries} summaries).</p>
    <p>${c.cacheReadRatio === null ? 'No model calls yet.' : `Cache-read ratio over ${c.calls} calls: ${(c.cacheReadRatio * 100).toFixed(1)}% of input tokens.`}</p>
    <p>Today's spend: $${c.spendToday.usd.toFixed(4)}${c.spendToday.budgetUsd === null ? ' (no daily budget)' : ` of $${c.spendToday.budgetUsd.toFixed(2)}`}${c.spendToday.unpricedModels.length ? ` (not counting ${c.spendToday.unpricedModels.join(', ')}: no price)` : ''}.</p></section>`
    : h`<p class="muted">The context view needs direct mode.</p>`;
  const rows = new Map(options.usage.rows.map((r) => [r.key, r]));
  const get = (day: string) => rows.get(day);
  const tokens = stackedBars({
    title: 'Tokens per UTC day', labels: options.days,
    series: [
      { label: 'input', color: '#4e79a7', values: options.days.map((d) => get(d)?.inputTokens ?? 0) },
      { label: 'cache read', color: '#59a14f', values: options.days.map((d) => get(d)?.cacheReadTokens ?? 0) },
      { label: 'cache write', color: '#edc948', values: options.days.map((d) => get(d)?.cacheWriteTokens ?? 0) },
      { label: 'output', color: '#e15759', values: options.days.map((d) => get(d)?.outputTokens ?? 0) },
    ],
  });
  const ratio = stackedBars({
    title: 'Cache-read ratio per UTC day', labels: options.days, series: [],
    ratio: { label: 'cache-read ratio', color: '#59a14f', values: options.days.map((d) => get(d)?.cacheReadRatio ?? null) },
    format: () => '',
  });
  const spend = stackedBars({
    title: 'Spend per UTC day (USD)', labels: options.days,
    series: [{ label: 'USD', color: '#76b7b2', values: options.days.map((d) => get(d)?.pricedCostUsd ?? 0) }],
    limit: options.budgetUsd === undefined ? undefined : { label: `daily budget $${options.budgetUsd.toFixed(2)}`, value: options.budgetUsd },
    format: (n) => `$${n.toFixed(n < 1 ? 3 : 2)}`,
  });
  const t = options.usage.totals;
  const totals = h`<p>Last ${options.days.length} days: ${t.calls} calls, $${t.pricedCostUsd.toFixed(4)}${t.unpricedModels.length ? ` (not counting ${t.unpricedModels.join(', ')}: no price)` : ''}.</p>`;
  return layout({ title: 'Context & cost', active: '/cost', csrf: options.csrf, body: h`${contextView}<section class="card"><h2>Tokens per day</h2>${tokens}<h2>Cache-read ratio</h2>${ratio}<h2>Spend per day</h2>${spend}${totals}</section>` });
}

// ---- jobs

export function jobsPage(options: { jobs?: Job[]; perch: string; csrf: string }): string {
  const jobs = options.jobs === undefined
    ? h`<p class="muted">Jobs cannot be managed from this page here.</p>`
    : options.jobs.length === 0 ? h`<p class="muted">No scheduled jobs. Ask Lares to remind you of something.</p>`
      : h`<ul class="jobs">${options.jobs.map((j) => h`<li class="card"><p><strong>${j.message}</strong></p>
        <p class="muted">${j.id} · ${j.kind} ${j.spec} · ${j.paused ? 'paused' : j.active ? `next ${j.nextRunAt?.slice(0, 16).replace('T', ' ') ?? '—'}` : 'finished'}${j.lastRunAt ? ` · last ${j.lastRunAt.slice(0, 16).replace('T', ' ')}` : ''}</p>
        <div class="actions">
        ${j.nextRunAt === null ? '' : h`<form method="post" action="/jobs/${j.id}/${j.paused ? 'resume' : 'pause'}">${csrfField(options.csrf)}<button type="submit">${j.paused ? 'Resume' : 'Pause'}</button></form>`}
        <form method="post" action="/jobs/${j.id}/run">${csrfField(options.csrf)}<button type="submit">Run now</button></form>
        <form method="post" action="/jobs/${j.id}/remove">${csrfField(options.csrf)}<button type="submit" class="bad">Remove</button></form></div></li>`)}</ul>`;
  return layout({ title: 'Jobs', active: '/jobs', csrf: options.csrf, body: h`<section class="card"><h2>Perch time</h2><p>${options.perch}</p></section><h2>Scheduled jobs</h2>${jobs}` });
}
