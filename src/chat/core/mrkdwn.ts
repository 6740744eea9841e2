/**
 * Slack text: playbook `description`s are Markdown; Slack renders its own "mrkdwn" dialect, and
 * refuses a whole message (invalid_blocks) when one text is over its limit. Pure functions.
 * https://api.slack.com/reference/surfaces/formatting, https://api.slack.com/reference/block-kit/blocks
 */

/** Slack's documented maxima for the texts Quench sends. */
export const SLACK_LIMIT = {
  sectionText: 3000,
  sectionField: 2000,
  contextText: 3000,
  headerText: 150,
  buttonText: 75,
  /** Option `text` in a select (and its `value`: 150). */
  optionText: 75,
  optionValue: 150,
  modalTitle: 24,
  inputLabel: 2000,
  inputHint: 2000,
  placeholder: 150,
  confirmTitle: 100,
  confirmText: 300,
  confirmButton: 30,
  /** Blocks in one message (a modal or Home tab takes 100). */
  messageBlocks: 50,
  /** The message's top-level notification `text`. */
  messageText: 40000,
} as const;

/**
 * Characters that change how text *looks* without being seen: the bidirectional embeddings,
 * overrides and isolates (U+202A–U+202E, U+2066–U+2069: "Trojan Source", text that reads
 * `deploy rollback` while holding `kcabllor yolped`), and the zero-width space, word joiner
 * and BOM (U+200B, U+2060, U+FEFF: two names that look the same and are not). An approver must
 * see what they approve, so each is shown by its code point instead. Marks (LRM, RLM) and
 * joiners (ZWJ, ZWNJ: emoji sequences, Indic scripts) are ordinary text and kept.
 */
const INVISIBLE = /[\u202A-\u202E\u2066-\u2069\u200B\u2060\uFEFF]/g;
export const revealInvisible = (s: string) => s.replace(INVISIBLE, (c) => `⟦U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}⟧`);

/**
 * Slack's mrkdwn treats &, < and > specially; user-supplied text must not form links or
 * mentions, nor hide or reorder what it shows (revealInvisible).
 */
export const escapeText = (s: string) => revealInvisible(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * `text` cut to `limit` characters. A cut text ends with `…` and `note` (e.g. where the full
 * text is: a link to the run); a code block left open by the cut is closed.
 */
export function capText(text: string, limit: number, note = ''): string {
  if (text.length <= limit) return text;
  const tail = `…${note}`;
  let room = Math.max(0, limit - tail.length);
  let cut = slice(text, room);
  if ((cut.match(/```/g)?.length ?? 0) % 2 === 1) {
    room = Math.max(0, room - 4);
    cut = `${slice(text, room)}\n\`\`\``;
  }
  // Never end inside an escape (&amp;) or a half <link|…>: drop the partial token.
  cut = cut.replace(/&[a-z]{0,4}$/, '').replace(/<[^>]*$/, '');
  return slice(`${cut}${tail}`, limit);
}

/**
 * The first `n` UTF-16 units of `s`, one fewer when the cut would split a surrogate pair (an
 * emoji, a character outside the BMP): half a pair is not text, and JSON carries it as a lone
 * `\ud83d` that a strict decoder refuses (and that Slack could at best show as �).
 */
function slice(s: string, n: number): string {
  const code = s.charCodeAt(n - 1);
  return s.slice(0, code >= 0xd800 && code <= 0xdbff ? n - 1 : n);
}

/**
 * Markdown (CommonMark subset) to Slack mrkdwn: headings become bold lines, `-`/`*`/`+` list
 * items bullets, numbered items stay numbered, `**bold**` → `*bold*`, `*em*`/`_em_` → `_em_`,
 * `~~s~~` → `~s~`, `[text](url)` → `<url|text>` (http, https and mailto only), inline code and
 * fenced code blocks kept (their contents escaped, never formatted). Everything else is
 * escaped, so a description can never mention `@channel` or forge a link.
 */
export function markdownToMrkdwn(markdown: string): string {
  const out: string[] = [];
  let fence: string[] | undefined;
  for (const line of markdown.replace(/\r\n?/g, '\n').split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) {
      if (fence) {
        out.push(`\`\`\`${fence.join('\n')}\`\`\``);
        fence = undefined;
      } else fence = [];
      continue;
    }
    if (fence) {
      fence.push(escapeText(line));
      continue;
    }
    out.push(blockLine(line));
  }
  if (fence) out.push(`\`\`\`${fence.join('\n')}\`\`\``);
  return out.join('\n');
}

function blockLine(line: string): string {
  const heading = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
  if (heading) return `*${inline(heading[1]!).replace(/\*/g, '')}*`;
  const bullet = /^(\s*)[-*+]\s+(.*)$/.exec(line);
  if (bullet) return `${'  '.repeat(Math.floor(bullet[1]!.length / 2))}• ${inline(bullet[2]!)}`;
  const numbered = /^(\s*)(\d{1,9})[.)]\s+(.*)$/.exec(line);
  if (numbered) return `${'  '.repeat(Math.floor(numbered[1]!.length / 2))}${numbered[2]}. ${inline(numbered[3]!)}`;
  const quote = /^\s{0,3}>\s?(.*)$/.exec(line);
  if (quote) return `>${inline(quote[1]!)}`;
  if (/^\s{0,3}([-*_])(\s*\1){2,}\s*$/.test(line)) return '────────';
  return inline(line);
}

/** Inline spans: code spans are kept verbatim (escaped); the text between them is formatted. */
function inline(text: string): string {
  return text
    .split(/(`[^`]+`)/)
    .map((part, i) => (i % 2 === 1 ? `\`${escapeText(part.slice(1, -1))}\`` : spans(part)))
    .join('');
}

const BOLD = '\u0001';

function spans(text: string): string {
  return escapeText(text)
    .replace(/\[([^\]]+)\]\(((?:https?:\/\/|mailto:)[^\s)]+)\)/g, (_, label: string, url: string) => `<${url}|${label.replace(/\|/g, '¦')}>`)
    .replace(/(\*\*|__)(?=\S)(.+?)(?<=\S)\1/g, `${BOLD}$2${BOLD}`)
    .replace(/(^|[^\w*])\*(?=\S)([^*]+?)(?<=\S)\*(?!\w)/g, '$1_$2_')
    .replace(/~~(?=\S)(.+?)(?<=\S)~~/g, '~$1~')
    .replaceAll(BOLD, '*');
}
