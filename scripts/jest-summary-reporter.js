'use strict';
// Writes the run's counts (and the names of failed tests) to `outputFile` (or MAAS_JEST_SUMMARY), from
// plain numbers and strings only: jest's own --json output can fail to serialise a failure that
// holds a circular object, and then no summary is printed at all.
const fs = require('node:fs');
const path = require('node:path');

class SummaryReporter {
  constructor(_globalConfig, options = {}) {
    this.outputFile = options.outputFile ?? process.env.MAAS_JEST_SUMMARY;
  }

  onRunComplete(_contexts, results) {
    if (!this.outputFile) return;
    const failed = [];
    for (const file of results.testResults ?? []) {
      if (file.testExecError)
        failed.push(
          `${path.relative(process.cwd(), file.testFilePath)}: ${String(file.testExecError.message ?? file.testExecError).split('\n')[0]}`,
        );
      for (const t of file.testResults ?? []) {
        if (t.status === 'failed') failed.push(`${path.relative(process.cwd(), file.testFilePath)} › ${t.fullName}`);
      }
    }
    const summary = {
      passed: results.numPassedTests,
      failed: results.numFailedTests,
      skipped: results.numPendingTests + results.numTodoTests,
      total: results.numTotalTests,
      failedSuites: results.numFailedTestSuites,
      suitesThatDidNotRun: results.numRuntimeErrorTestSuites,
      failedTests: failed,
    };
    fs.mkdirSync(path.dirname(this.outputFile), { recursive: true });
    fs.writeFileSync(this.outputFile, JSON.stringify(summary, null, 2));
  }
}

module.exports = SummaryReporter;
