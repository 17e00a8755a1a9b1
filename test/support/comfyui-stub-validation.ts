import { type StubNodeInfo } from './comfyui-stub-nodes';

/**
 * The stub's version of execution.py validate_prompt: the same error types, messages and node_errors shape,
 * for the checks a client can trip (unknown class, missing required input, bad link, type mismatch,
 * conversion, min/max, value not in a combo's list).
 */
export type ApiPrompt = Record<string, { class_type?: unknown; inputs?: Record<string, unknown> }>;
interface Reason {
  type: string;
  message: string;
  details: string;
  extra_info: Record<string, unknown>;
}
export type NodeErrors = Record<
  string,
  { errors: Reason[]; dependent_outputs: string[]; class_type: string }
>;
export type Validation =
  { ok: true; outputs: string[] } | { ok: false; error: Reason; nodeErrors: NodeErrors };

export const isLink = (value: unknown): value is [string, number] =>
  Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'number';

/** execution.validate_prompt, for the cases above. Converts INT/FLOAT/STRING values in place, as ComfyUI does. */
export function validatePrompt(prompt: ApiPrompt, catalogue: Record<string, StubNodeInfo>): Validation {
  const outputs: string[] = [];
  for (const [id, entry] of Object.entries(prompt)) {
    if (typeof entry.class_type !== 'string')
      return fail({
        type: 'invalid_prompt',
        message: 'Cannot execute because a node is missing the class_type property.',
        details: `Node ID '#${id}'`,
        extra_info: {},
      });
    const info = catalogue[entry.class_type];
    if (!info)
      return fail({
        type: 'invalid_prompt',
        message: `Cannot execute because node ${entry.class_type} does not exist.`,
        details: `Node ID '#${id}'`,
        extra_info: {},
      });
    if (info.output_node) outputs.push(id);
  }
  if (!outputs.length)
    return fail({ type: 'prompt_no_outputs', message: 'Prompt has no outputs', details: '', extra_info: {} });

  const validated = new Map<string, { ok: boolean; reasons: Reason[] }>();
  const validate = (id: string): boolean => {
    const known = validated.get(id);
    if (known) return known.ok;
    const entry = prompt[id]!;
    const info = catalogue[entry.class_type as string]!;
    const inputs = (entry.inputs ??= {});
    const reasons: Reason[] = [];
    let ok = true;
    validated.set(id, { ok: true, reasons });
    const specs = { ...info.input.optional, ...info.input.required };
    const required = new Set(Object.keys(info.input.required ?? {}));
    for (const [name, [type, options = {}]] of Object.entries(specs)) {
      if (!(name in inputs)) {
        if (required.has(name))
          reasons.push({
            type: 'required_input_missing',
            message: 'Required input is missing',
            details: name,
            extra_info: { input_name: name },
          });
        continue;
      }
      const value = inputs[name];
      if (Array.isArray(value) && !isLink(value)) {
        reasons.push({
          type: 'bad_linked_input',
          message: 'Bad linked input, must be a length-2 list of [node_id, slot_index]',
          details: name,
          extra_info: { input_name: name },
        });
        continue;
      }
      if (isLink(value)) {
        const source = prompt[value[0]];
        const received = source && catalogue[source.class_type as string]?.output[value[1]];
        if (received === undefined) {
          reasons.push({
            type: 'exception_during_validation',
            message: 'Exception when validating inner node',
            details: `'${value[0]}'`,
            extra_info: { input_name: name },
          });
          continue;
        }
        if (typeof type === 'string' && received !== type && received !== '*' && type !== '*') {
          reasons.push({
            type: 'return_type_mismatch',
            message: 'Return type mismatch between linked nodes',
            details: `${name}, received_type(${received}) mismatch input_type(${type})`,
            extra_info: { input_name: name, received_type: received, linked_node: value },
          });
          continue;
        }
        if (!validate(value[0])) ok = false;
        continue;
      }
      const problem = checkValue(name, type, options, value, inputs);
      if (problem) reasons.push(problem);
    }
    const result = { ok: ok && reasons.length === 0, reasons };
    validated.set(id, result);
    return result.ok;
  };

  const good = outputs.filter((id) => validate(id));
  if (good.length) return { ok: true, outputs: good };
  const nodeErrors: NodeErrors = {};
  for (const [id, { reasons }] of validated) {
    if (!reasons.length) continue;
    nodeErrors[id] = {
      errors: reasons,
      dependent_outputs: outputs,
      class_type: prompt[id]!.class_type as string,
    };
  }
  const details = Object.values(nodeErrors)
    .flatMap((entry) => entry.errors.map((reason) => `${reason.message}: ${reason.details}`))
    .join('\n');
  return {
    ok: false,
    error: {
      type: 'prompt_outputs_failed_validation',
      message: 'Prompt outputs failed validation',
      details,
      extra_info: {},
    },
    nodeErrors,
  };
}

function checkValue(
  name: string,
  type: unknown,
  options: Record<string, unknown>,
  value: unknown,
  inputs: Record<string, unknown>,
): Reason | undefined {
  const extra = { input_name: name, received_value: value };
  if (type === 'INT' || type === 'FLOAT') {
    const number = typeof value === 'number' ? value : Number(value);
    if (typeof value === 'boolean' || value === null || value === '' || Number.isNaN(number))
      return {
        type: 'invalid_input_type',
        message: `Failed to convert an input value to a ${type} value`,
        details: `${name}, ${String(value)}, invalid literal`,
        extra_info: extra,
      };
    inputs[name] = type === 'INT' ? Math.trunc(number) : number;
    if (typeof options.min === 'number' && number < options.min)
      return {
        type: 'value_smaller_than_min',
        message: `Value ${number} smaller than min of ${options.min}`,
        details: name,
        extra_info: extra,
      };
    if (typeof options.max === 'number' && number > options.max)
      return {
        type: 'value_bigger_than_max',
        message: `Value ${number} bigger than max of ${options.max}`,
        details: name,
        extra_info: extra,
      };
    return undefined;
  }
  if (type === 'STRING') {
    inputs[name] = typeof value === 'string' ? value : JSON.stringify(value);
    return undefined;
  }
  const choices = Array.isArray(type)
    ? type
    : type === 'COMBO' && Array.isArray(options.options)
      ? options.options
      : undefined;
  if (choices && !choices.includes(value))
    return {
      type: 'value_not_in_list',
      message: 'Value not in list',
      details: `${name}: '${String(value)}' not in ${JSON.stringify(choices)}`,
      extra_info: extra,
    };
  return undefined;
}

const fail = (error: Reason): Validation => ({ ok: false, error, nodeErrors: {} });
