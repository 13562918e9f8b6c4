// LoCoMo (a long-term conversation benchmark) for the recall benchmark: the development split in
// ../shared/bench/locomo-dev/ turned into one Lares history, its questions, and the exact hit rule
// of that folder's README. The data stays where it is (research licence): it is read, never copied.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NewMessage } from '../src/memory/store.ts';

const here = dirname(fileURLToPath(import.meta.url));
export const LOCOMO_DEV = process.env.LOCOMO_PATH ?? join(here, '..', '..', 'shared', 'bench', 'locomo-dev', 'locomo-dev.json');

export const CATEGORIES: Record<number, string> = { 1: 'multi-hop', 2: 'temporal', 3: 'open-domain', 4: 'single-hop' };

interface Turn { speaker: string; dia_id: string; text: string; blip_caption?: string }
interface Sample {
  sample_id: string;
  conversation: Record<string, unknown> & { speaker_a: string; speaker_b: string };
  qa: Array<{ question: string; evidence: string[]; category: number }>;
}

export interface LocomoQuestion { question: string; category: number; evidence: string[] /* turn texts */ }
export interface LocomoSet { messages: NewMessage[]; questions: LocomoQuestion[]; conversations: number }

const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];

/** "1:56 pm on 8 May, 2023" → epoch ms (read as UTC). */
export function parseSessionDate(value: string): number {
  const m = /(\d{1,2}):(\d{2})\s*(am|pm)\s+on\s+(\d{1,2})\s+([A-Za-z]+),?\s+(\d{4})/i.exec(value);
  if (!m) throw new Error(`unreadable LoCoMo session date: ${value}`);
  let hour = Number(m[1]) % 12;
  if (m[3].toLowerCase() === 'pm') hour += 12;
  const month = MONTHS.indexOf(m[5].toLowerCase());
  if (month < 0) throw new Error(`unreadable month in ${value}`);
  return Date.UTC(Number(m[6]), month, Number(m[4]), hour, Number(m[2]));
}

export function turnText(turn: Turn): string {
  return turn.blip_caption ? `${turn.text} [image: ${turn.blip_caption}]` : turn.text;
}

/** Every turn of every conversation merged in time order (speaker_a = the person), and the questions of categories 1–4. */
export function loadLocomo(path = LOCOMO_DEV): LocomoSet | undefined {
  if (!existsSync(path)) return undefined;
  const samples = JSON.parse(readFileSync(path, 'utf8')) as Sample[];
  const timed: Array<{ at: number; order: number; message: NewMessage }> = [];
  const questions: LocomoQuestion[] = [];
  let order = 0;
  for (const sample of samples) {
    const conv = sample.conversation;
    const byId = new Map<string, string>();
    for (let s = 1; Array.isArray(conv[`session_${s}`]); s++) {
      const start = parseSessionDate(String(conv[`session_${s}_date_time`]));
      (conv[`session_${s}`] as Turn[]).forEach((turn, i) => {
        const content = turnText(turn);
        byId.set(turn.dia_id, turn.text);
        const at = start + i * 10_000;
        timed.push({
          at, order: order++,
          message: { role: turn.speaker === conv.speaker_a ? 'user' : 'assistant', blocks: [{ type: 'text', text: content }], content, createdAt: new Date(at).toISOString(), sourceRef: `locomo:${sample.sample_id}:${turn.dia_id}` },
        });
      });
    }
    for (const qa of sample.qa) {
      if (!(qa.category in CATEGORIES)) continue;
      questions.push({ question: qa.question, category: qa.category, evidence: qa.evidence.map((id) => byId.get(id.trim())).filter((t): t is string => t !== undefined) });
    }
  }
  timed.sort((a, b) => a.at - b.at || a.order - b.order);
  return { messages: timed.map((t) => t.message), questions, conversations: samples.length };
}

const norm = (s: string) => s.replace(/\s+/g, ' ').trim().toLowerCase();

/** The README's rule: equal, contains the turn with at most 300 characters around it, or a snippet of 30+ characters of it. */
export function isHit(resultContent: string, evidenceText: string): boolean {
  const result = norm(resultContent);
  const turn = norm(evidenceText);
  if (!turn) return false;
  if (result === turn) return true;
  if (result.includes(turn) && result.length - turn.length <= 300) return true;
  return result.length >= 30 && turn.includes(result);
}
