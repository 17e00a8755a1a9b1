import { type Logger } from '@castforge/core';
import { z } from 'zod';
import { abortError } from '../inference/inference-backend';

/** The longest prompt a request may carry (SPEC §3), so an enhanced one is held to it too. */
export const MAX_ENHANCED_PROMPT_CHARS = 4000;

/**
 * What the model is asked to do. The identity (face, age, hair…) is not its business: the profile's
 * template is joined after enhancement (SPEC §12), so a model that invents a person would fight it.
 */
export const ENHANCER_SYSTEM_PROMPT = [
  'You rewrite prompts for a text-to-image diffusion model (Stable Diffusion, SDXL, Flux).',
  "Expand the user's prompt into one detailed visual description: subject and action, setting,",
  'composition and framing, lighting, camera and lens, style, colour palette and mood.',
  'Keep every element the user gave and its meaning. Do not describe what the people look like',
  '(face, age, ethnicity, hair, body) beyond what the prompt says: a separate identity description is',
  'added afterwards. Add no text, captions, logos or watermarks.',
  'Answer with the prompt only: one paragraph of comma-separated phrases, at most 80 words, no quotes,',
  'no preamble, no explanation.',
].join(' ');

export interface PromptEnhancerOptions {
  /** PROMPT_ENHANCER_URL; unset: every enhancement is skipped with a warning. See `chatCompletionsUrl`. */
  url?: string;
  /** PROMPT_ENHANCER_MODEL, sent as `model` (llama.cpp's server accepts any name). */
  model?: string;
  /** PROMPT_ENHANCER_API_KEY, sent as `Authorization: Bearer`. */
  apiKey?: string;
  /** PROMPT_ENHANCER_TIMEOUT_MS: past it the job goes on with the prompt as given. */
  timeoutMs: number;
  logger?: Logger;
}

export interface EnhancedPrompt {
  /** The prompt to join with the profile template: the enhanced one, or the one given. */
  prompt: string;
  /** Set when the prompt was not (fully) enhanced: a line for the job status's `warnings`. */
  warning?: string;
}

export interface PromptEnhancer {
  readonly configured: boolean;
  /**
   * Rewrites `prompt` (SPEC §12). Never fails the job: an unconfigured or failing enhancer gives the prompt
   * as given and a warning saying why. Only an abort of `signal` (cancel, time budget) rejects.
   */
  enhance(prompt: string, signal?: AbortSignal): Promise<EnhancedPrompt>;
}

/**
 * Where the chat request goes. PROMPT_ENHANCER_URL is the server's base URL, as OpenAI clients take it:
 * `http://ollama:11434` and `http://ollama:11434/v1` both give `…/v1/chat/completions`; a URL that already
 * ends in `/chat/completions` is used as it is (for gateways with other paths). A query string is kept.
 */
export function chatCompletionsUrl(base: string): string {
  const url = new URL(base);
  const path = url.pathname.replace(/\/+$/, '');
  if (/\/chat\/completions$/.test(path)) url.pathname = path;
  else if (/\/v1$/.test(path)) url.pathname = `${path}/chat/completions`;
  else url.pathname = `${path}/v1/chat/completions`;
  return url.toString();
}

/** The part of an OpenAI `chat.completion` answer this reads; servers add more, and that is fine. */
const ChatCompletion = z.object({
  choices: z
    .array(z.object({ message: z.object({ content: z.string().nullish() }) }))
    .min(1, 'has no choices'),
});
const OpenAiError = z.object({ error: z.object({ message: z.string() }) });

class EnhancerFailure extends Error {
  override name = 'EnhancerFailure';
}

export function createPromptEnhancer(options: PromptEnhancerOptions): PromptEnhancer {
  const { url, model, apiKey, timeoutMs, logger } = options;
  const endpoint = url ? chatCompletionsUrl(url) : undefined;
  const given = (prompt: string, why: string): EnhancedPrompt => ({
    prompt,
    warning: `enhance_prompt: ${why}; the prompt was used as given`,
  });

  async function ask(prompt: string, signal: AbortSignal): Promise<string> {
    let res: Response;
    try {
      res = await fetch(endpoint!, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          ...(apiKey && { authorization: `Bearer ${apiKey}` }),
        },
        // Only what every OpenAI-compatible server accepts: hosted reasoning models refuse max_tokens and a
        // non-default temperature, and the answer is capped here instead.
        body: JSON.stringify({
          model,
          messages: [
            { role: 'system', content: ENHANCER_SYSTEM_PROMPT },
            { role: 'user', content: prompt },
          ],
          stream: false,
        }),
        signal,
        redirect: 'error',
      });
    } catch (err) {
      if (signal.aborted) throw err;
      throw new EnhancerFailure(`the prompt enhancer could not be reached (${causeOf(err)})`);
    }
    const text = await res.text();
    if (!res.ok) {
      const detail = OpenAiError.safeParse(safeJson(text));
      const said = detail.success ? `: ${detail.data.error.message.slice(0, 200)}` : '';
      throw new EnhancerFailure(`the prompt enhancer answered ${res.status}${said}`);
    }
    const parsed = ChatCompletion.safeParse(safeJson(text));
    if (!parsed.success) throw new EnhancerFailure('the prompt enhancer answered with an unreadable body');
    return parsed.data.choices[0]!.message.content ?? '';
  }

  return {
    configured: endpoint !== undefined,
    async enhance(prompt, signal) {
      if (signal?.aborted) throw abortError(signal);
      if (!endpoint) return given(prompt, 'no prompt enhancer is configured (PROMPT_ENHANCER_URL)');
      if (!prompt.trim()) return given(prompt, 'the request has no prompt to enhance');
      const timeout = AbortSignal.timeout(timeoutMs);
      try {
        const answer = cleanAnswer(await ask(prompt, signal ? AbortSignal.any([signal, timeout]) : timeout));
        if (!answer) return given(prompt, 'the prompt enhancer answered with an empty prompt');
        if (answer.length <= MAX_ENHANCED_PROMPT_CHARS) return { prompt: answer };
        return {
          prompt: cut(answer, MAX_ENHANCED_PROMPT_CHARS),
          warning: `enhance_prompt: the enhanced prompt was cut to ${MAX_ENHANCED_PROMPT_CHARS} characters`,
        };
      } catch (err) {
        if (signal?.aborted) throw abortError(signal);
        const why =
          err instanceof EnhancerFailure
            ? err.message
            : timeout.aborted
              ? `the prompt enhancer did not answer within ${timeoutMs} ms`
              : `the prompt enhancer failed (${causeOf(err)})`;
        logger?.warn({ reason: why }, 'prompt enhancer failed; using the prompt as given');
        return given(prompt, why);
      }
    },
  };
}

/**
 * The prompt inside a model's answer: reasoning models' `<think>` blocks dropped, a `Prompt:` label and
 * wrapping quotes or backticks removed, lines joined into one.
 */
export function cleanAnswer(answer: string): string {
  let text = answer.replace(/<think>[\s\S]*?<\/think>/gi, '').trim();
  text = text.replace(/^(?:enhanced\s+)?prompt\s*:\s*/i, '');
  for (;;) {
    const unwrapped = text.replace(/^(["'`“”‘’]+)([\s\S]*?)(["'`“”‘’]+)$/, '$2').trim();
    if (unwrapped === text) break;
    text = unwrapped;
  }
  return text
    .replace(/\s*\n+\s*/g, ' ')
    .replace(/\s{2,}/g, ' ')
    .trim();
}

/** At most `max` characters, cut after the last whole phrase (comma) or word that fits. */
function cut(text: string, max: number): string {
  const head = text.slice(0, max);
  const at = Math.max(head.lastIndexOf(','), head.lastIndexOf(' '));
  return (at > max / 2 ? head.slice(0, at) : head).replace(/[\s,]+$/, '');
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Undici wraps the socket error (ECONNREFUSED…) in `cause`; that code is what an operator needs. */
function causeOf(err: unknown): string {
  if (typeof err !== 'object' || err === null) return typeof err === 'string' ? err : 'unknown error';
  const { cause, message } = err as { cause?: unknown; message?: unknown };
  if (typeof cause === 'object' && cause !== null && typeof (cause as { code?: unknown }).code === 'string') {
    return (cause as { code: string }).code;
  }
  return typeof message === 'string' ? message : 'unknown error';
}
