import { type ComponentChildren } from 'preact';

/**
 * A labelled control with its error right under it: the error is tied to the control by aria-describedby
 * and marks it aria-invalid, so a screen reader reads the API's message with the field.
 */
export function Field(props: {
  id: string;
  label: string;
  error?: string | undefined;
  hint?: string;
  children: (aria: { id: string; 'aria-invalid': boolean; 'aria-describedby'?: string }) => ComponentChildren;
}) {
  const described = [props.hint && `${props.id}-hint`, props.error && `${props.id}-error`]
    .filter(Boolean)
    .join(' ');
  return (
    <div class={props.error ? 'field field-invalid' : 'field'}>
      <label for={props.id}>{props.label}</label>
      {props.children({
        id: props.id,
        'aria-invalid': Boolean(props.error),
        ...(described && { 'aria-describedby': described }),
      })}
      {props.hint && (
        <p class="hint" id={`${props.id}-hint`}>
          {props.hint}
        </p>
      )}
      {props.error && (
        <p class="field-error" id={`${props.id}-error`}>
          {props.error}
        </p>
      )}
    </div>
  );
}

/** An error for the whole form or page, announced when it appears. */
export function Alert(props: { message: string | null | undefined }) {
  return props.message ? (
    <div class="banner banner-error" role="alert">
      {props.message}
    </div>
  ) : null;
}
