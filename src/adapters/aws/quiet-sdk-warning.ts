/**
 * CONVENTIONS: the AWS SDK's Node-version warning is suppressed (Node 20 is this project's
 * target). Only that warning: every other one still prints. Imported for its effect, first
 * thing, by the CLI (and by the test setup).
 */
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = (warning: string | Error, ...rest: unknown[]) => {
  const text = typeof warning === 'string' ? warning : warning.name + warning.message;
  const type = typeof rest[0] === 'string' ? rest[0] : '';
  if (type === 'NodeVersionSupportWarning' || text.includes('NodeVersionSupportWarning')) return;
  (emitWarning as (...args: unknown[]) => void)(warning, ...rest);
};
