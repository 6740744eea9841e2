/**
 * Slack's documented limits on a message's Block Kit, checked the way Slack checks them: a
 * message over any of them is refused whole with `invalid_blocks`, and
 * `response_metadata.messages` names each offending place by JSON pointer. The fake Slack applies
 * this to every chat.postMessage and chat.update, so every test posting through it is held to
 * the real limits.
 *
 * - at most 50 blocks in a message (https://docs.slack.dev/reference/block-kit/blocks)
 * - section: `text` 1 to 3,000 characters, at most 10 `fields` of at most 2,000
 *   (https://docs.slack.dev/reference/block-kit/blocks/section-block)
 * - header: `plain_text` of at most 150 characters
 *   (https://docs.slack.dev/reference/block-kit/blocks/header-block)
 */
export const MESSAGE_BLOCKS = 50;
export const SECTION_TEXT = 3000;
export const SECTION_FIELDS = 10;
export const SECTION_FIELD_TEXT = 2000;
export const HEADER_TEXT = 150;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const textOf = (v: unknown): string | undefined => (isObj(v) && typeof v.text === 'string' ? v.text : undefined);

/** Slack's `[ERROR] …` lines for a message's blocks; empty when Slack would accept them. */
export function blockKitErrors(blocks: unknown): string[] {
  if (!Array.isArray(blocks)) return ['[ERROR] must be an array [json-pointer:/blocks]'];
  const errors: string[] = [];
  if (blocks.length > MESSAGE_BLOCKS) errors.push(`[ERROR] no more than ${MESSAGE_BLOCKS} items allowed [json-pointer:/blocks]`);
  blocks.forEach((block, i) => {
    const at = `/blocks/${i}`;
    if (!isObj(block)) return void errors.push(`[ERROR] must be an object [json-pointer:${at}]`);
    if (block.type === 'section') {
      const text = textOf(block.text);
      if (block.text !== undefined && text === undefined) errors.push(`[ERROR] must provide a string [json-pointer:${at}/text/text]`);
      if (text !== undefined && text.length === 0) errors.push(`[ERROR] must be more than 0 characters [json-pointer:${at}/text/text]`);
      if (text !== undefined && text.length > SECTION_TEXT) errors.push(`[ERROR] must be less than ${SECTION_TEXT + 1} characters [json-pointer:${at}/text/text]`);
      if (block.text === undefined && block.fields === undefined) errors.push(`[ERROR] must provide text or fields [json-pointer:${at}]`);
      if (block.fields !== undefined) {
        if (!Array.isArray(block.fields)) errors.push(`[ERROR] must be an array [json-pointer:${at}/fields]`);
        else {
          if (block.fields.length > SECTION_FIELDS) errors.push(`[ERROR] no more than ${SECTION_FIELDS} items allowed [json-pointer:${at}/fields]`);
          block.fields.forEach((f, j) => {
            const t = textOf(f);
            if (t === undefined || t.length === 0 || t.length > SECTION_FIELD_TEXT) errors.push(`[ERROR] must be 1 to ${SECTION_FIELD_TEXT} characters [json-pointer:${at}/fields/${j}/text]`);
          });
        }
      }
    } else if (block.type === 'header') {
      const text = textOf(block.text);
      if (!isObj(block.text) || block.text.type !== 'plain_text') errors.push(`[ERROR] must be a plain_text object [json-pointer:${at}/text]`);
      if (text === undefined || text.length === 0 || text.length > HEADER_TEXT) errors.push(`[ERROR] must be 1 to ${HEADER_TEXT} characters [json-pointer:${at}/text/text]`);
    }
  });
  return errors;
}
