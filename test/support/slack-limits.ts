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
 * - context: 1 to 10 elements, each text at most 3,000 characters; actions: 1 to 25 elements
 *   (context-block, actions-block)
 * - button: text at most 75, value at most 2,000; static_select: 1 to 100 options, each text at
 *   most 75 and value at most 150 (button-element, select-menu-element, option object)
 * - confirm dialog: title 100, text 300, confirm and deny 30 (confirmation-dialog object)
 * - input: label 2,000, hint 2,000, placeholder 150 (input-block, plain-text-input-element)
 * - modal view: title, submit and close at most 24, at most 100 blocks (views: modal)
 * An action_id or block_id is at most 255 characters.
 */
export const MESSAGE_BLOCKS = 50;
export const SECTION_TEXT = 3000;
export const SECTION_FIELDS = 10;
export const SECTION_FIELD_TEXT = 2000;
export const HEADER_TEXT = 150;
export const CONTEXT_ELEMENTS = 10;
export const ACTIONS_ELEMENTS = 25;
export const BUTTON_TEXT = 75;
export const BUTTON_VALUE = 2000;
export const SELECT_OPTIONS = 100;
export const OPTION_TEXT = 75;
export const OPTION_VALUE = 150;
export const CONFIRM = { title: 100, text: 300, confirm: 30, deny: 30 } as const;
export const INPUT = { label: 2000, hint: 2000, placeholder: 150 } as const;
export const MODAL_TEXT = 24;
export const MODAL_BLOCKS = 100;
export const ID_LENGTH = 255;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const textOf = (v: unknown): string | undefined => (isObj(v) && typeof v.text === 'string' ? v.text : undefined);

/** Slack's `[ERROR] …` lines for a message's blocks; empty when Slack would accept them. */
export function blockKitErrors(blocks: unknown, maxBlocks: number = MESSAGE_BLOCKS, root = '/blocks'): string[] {
  if (!Array.isArray(blocks)) return [`[ERROR] must be an array [json-pointer:${root}]`];
  const errors: string[] = [];
  if (blocks.length > maxBlocks) errors.push(`[ERROR] no more than ${maxBlocks} items allowed [json-pointer:${root}]`);
  blocks.forEach((block, i) => {
    const at = `${root}/${i}`;
    if (!isObj(block)) return void errors.push(`[ERROR] must be an object [json-pointer:${at}]`);
    idErrors(block, 'block_id', at, errors);
    elementsErrors(block, at, errors);
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

/** A text object of at most `max` characters (and at least one), if present or required. */
function textErrors(v: unknown, max: number, at: string, errors: string[], required = true): void {
  if (v === undefined) {
    if (required) errors.push(`[ERROR] must provide a text object [json-pointer:${at}]`);
    return;
  }
  const t = textOf(v);
  if (t === undefined || t.length === 0 || t.length > max) errors.push(`[ERROR] must be 1 to ${max} characters [json-pointer:${at}/text]`);
}

function idErrors(o: Obj, key: 'block_id' | 'action_id', at: string, errors: string[]): void {
  if (typeof o[key] === 'string' && (o[key] as string).length > ID_LENGTH) errors.push(`[ERROR] must be less than ${ID_LENGTH + 1} characters [json-pointer:${at}/${key}]`);
}

/** The limits of context, actions and input blocks and of the elements they hold. */
function elementsErrors(block: Obj, at: string, errors: string[]): void {
  if (block.type === 'context') {
    const els = Array.isArray(block.elements) ? block.elements : [];
    if (els.length === 0 || els.length > CONTEXT_ELEMENTS) errors.push(`[ERROR] must have 1 to ${CONTEXT_ELEMENTS} items [json-pointer:${at}/elements]`);
    els.forEach((e, j) => {
      if (isObj(e) && e.type !== 'image') textErrors(e, SECTION_TEXT, `${at}/elements/${j}`, errors);
    });
  } else if (block.type === 'actions') {
    const els = Array.isArray(block.elements) ? block.elements : [];
    if (els.length === 0 || els.length > ACTIONS_ELEMENTS) errors.push(`[ERROR] must have 1 to ${ACTIONS_ELEMENTS} items [json-pointer:${at}/elements]`);
    els.forEach((e, j) => elementErrors(e, `${at}/elements/${j}`, errors));
  } else if (block.type === 'section' && block.accessory !== undefined) {
    elementErrors(block.accessory, `${at}/accessory`, errors);
  } else if (block.type === 'input') {
    textErrors(block.label, INPUT.label, `${at}/label`, errors);
    textErrors(block.hint, INPUT.hint, `${at}/hint`, errors, false);
    elementErrors(block.element, `${at}/element`, errors);
  }
}

function elementErrors(e: unknown, at: string, errors: string[]): void {
  if (!isObj(e)) return void errors.push(`[ERROR] must be an object [json-pointer:${at}]`);
  idErrors(e, 'action_id', at, errors);
  if (e.type === 'button') {
    textErrors(e.text, BUTTON_TEXT, `${at}/text`, errors);
    if (typeof e.value === 'string' && e.value.length > BUTTON_VALUE) errors.push(`[ERROR] must be less than ${BUTTON_VALUE + 1} characters [json-pointer:${at}/value]`);
  }
  if (e.type === 'static_select') {
    const options = Array.isArray(e.options) ? e.options : [];
    if (options.length === 0 || options.length > SELECT_OPTIONS) errors.push(`[ERROR] must have 1 to ${SELECT_OPTIONS} items [json-pointer:${at}/options]`);
    options.forEach((o, k) => {
      textErrors(isObj(o) ? o.text : undefined, OPTION_TEXT, `${at}/options/${k}/text`, errors);
      const value = isObj(o) ? o.value : undefined;
      if (typeof value !== 'string' || value.length === 0 || value.length > OPTION_VALUE) errors.push(`[ERROR] must be 1 to ${OPTION_VALUE} characters [json-pointer:${at}/options/${k}/value]`);
    });
  }
  if (e.placeholder !== undefined) textErrors(e.placeholder, INPUT.placeholder, `${at}/placeholder`, errors);
  if (e.confirm !== undefined) {
    const c = isObj(e.confirm) ? e.confirm : {};
    for (const key of ['title', 'text', 'confirm', 'deny'] as const) textErrors(c[key], CONFIRM[key], `${at}/confirm/${key}`, errors, key === 'title' || key === 'text');
  }
}

/** Slack's `[ERROR] …` lines for a modal view (views.open, views.update, views.push). */
export function viewErrors(view: unknown): string[] {
  if (!isObj(view)) return ['[ERROR] must be an object [json-pointer:/view]'];
  const errors: string[] = [];
  if (view.type === 'modal') {
    textErrors(view.title, MODAL_TEXT, '/view/title', errors);
    textErrors(view.submit, MODAL_TEXT, '/view/submit', errors, false);
    textErrors(view.close, MODAL_TEXT, '/view/close', errors, false);
  }
  errors.push(...blockKitErrors(view.blocks, MODAL_BLOCKS, '/view/blocks'));
  return errors;
}
