/**
 * Label key and value validation with apimachinery's wording (`IsQualifiedName`,
 * `IsValidLabelValue`), rendered as `field.Error` strings: `<field>: Invalid value: "<v>": <detail>`.
 */
import type { FieldError } from '../errors.js';

const nameCharsFormat = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const nameCharsPattern = new RegExp(`^${nameCharsFormat}$`);
const nameErrorMessage = `name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '${nameCharsFormat}')`;
const qualifiedNameErrorMessage = `a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '${nameCharsFormat}') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`;
const subdomainFormat = '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*';
const subdomainPattern = new RegExp(`^${subdomainFormat}$`);
const subdomainErrorMessage = `a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '${subdomainFormat}')`;
const labelValueFormat = '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?';
const labelValuePattern = new RegExp(`^${labelValueFormat}$`);
const labelValueErrorMessage = `a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '${labelValueFormat}')`;

/** apimachinery `IsQualifiedName`: the problems with a label key, empty when valid. */
export function qualifiedNameProblems(value: string): string[] {
  const parts = value.split('/');
  let name: string;
  const problems: string[] = [];
  if (parts.length === 1) {
    name = value;
  } else if (parts.length === 2) {
    const [prefix = '', rest = ''] = parts;
    name = rest;
    if (prefix.length === 0) {
      problems.push('prefix part must be non-empty');
    } else {
      if (prefix.length > 253) problems.push('prefix part must be no more than 253 characters');
      if (!subdomainPattern.test(prefix)) problems.push(`prefix part ${subdomainErrorMessage}`);
    }
  } else {
    return [qualifiedNameErrorMessage];
  }
  if (name.length === 0) problems.push('name part must be non-empty');
  else if (name.length > 63) problems.push('name part must be no more than 63 characters');
  if (!nameCharsPattern.test(name)) problems.push(nameErrorMessage);
  return problems;
}

const labelFormat = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const labelPattern = new RegExp(`^${labelFormat}$`);
const labelErrorMessage = `a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '${labelFormat}')`;

/** apimachinery `IsDNS1123Subdomain` (object names of most kinds). */
export function subdomainProblems(value: string): string[] {
  const problems: string[] = [];
  if (value.length > 253) problems.push('must be no more than 253 characters');
  if (!subdomainPattern.test(value)) problems.push(subdomainErrorMessage);
  return problems;
}

/** apimachinery `IsDNS1123Label` (namespace names). */
export function dnsLabelProblems(value: string): string[] {
  const problems: string[] = [];
  if (value.length > 63) problems.push('must be no more than 63 characters');
  if (!labelPattern.test(value)) problems.push(labelErrorMessage);
  return problems;
}

/** apimachinery `IsValidLabelValue`. */
export function labelValueProblems(value: string): string[] {
  const problems: string[] = [];
  if (value.length > 63) problems.push('must be no more than 63 characters');
  if (!labelValuePattern.test(value)) problems.push(labelValueErrorMessage);
  return problems;
}

export function invalidValue(field: string, value: unknown, detail: string): FieldError {
  return {
    field,
    type: 'FieldValueInvalid',
    message: `${field}: Invalid value: ${JSON.stringify(value)}: ${detail}`,
  };
}

export function requiredValue(field: string, detail = ''): FieldError {
  return {
    field,
    type: 'FieldValueRequired',
    message: detail ? `${field}: Required value: ${detail}` : `${field}: Required value`,
  };
}

export function forbiddenValue(field: string, detail: string): FieldError {
  return { field, type: 'FieldValueForbidden', message: `${field}: Forbidden: ${detail}` };
}

/** `ValidateLabelName`: one error per problem with the key. */
export function validateLabelName(key: string, field: string): FieldError[] {
  return qualifiedNameProblems(key).map((problem) => invalidValue(field, key, problem));
}

/** `ValidateLabels`: keys and values of a label map. */
export function validateLabels(
  labels: Readonly<Record<string, string>>,
  field: string,
): FieldError[] {
  return Object.entries(labels).flatMap(([key, value]) => [
    ...validateLabelName(key, field),
    ...labelValueProblems(value).map((problem) => invalidValue(field, value, problem)),
  ]);
}
