// Prints vitest's JSON report as one plain line: "tests: N passed, N failed, N skipped".
import { readFileSync } from 'node:fs';

const [file = 'test-results.json'] = process.argv.slice(2);
let report;
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch {
  console.log('tests: no report (the test run did not get as far as vitest)');
  process.exit(1);
}
const skipped = report.numPendingTests + report.numTodoTests;
console.log(
  `tests: ${report.numPassedTests} passed, ${report.numFailedTests} failed, ${skipped} skipped`,
);
