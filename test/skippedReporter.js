// Prints, at the end of the run, one line per suite that was not run because a program it
// needs is missing (jest.config.js, test/services.js): a run that skipped something must
// never look like a full green run.
const SKIPPED_TITLE = / \[skipped: (needs .*)\]$/;

class SkippedReporter {
  constructor(_globalConfig, options) {
    this.skippedFiles = options.skipped ?? [];
  }

  onRunComplete(_contexts, results) {
    const lines = this.skippedFiles.map(({ suite, why }) => `skipped ${suite}: ${why}`);
    for (const file of results.testResults) {
      const relative = file.testFilePath.slice(process.cwd().length + 1);
      const describes = new Set();
      for (const test of file.testResults) {
        const title = test.ancestorTitles.find((t) => SKIPPED_TITLE.test(t));
        if (test.status === "pending" && title) describes.add(title);
      }
      for (const title of describes) {
        const [, why] = SKIPPED_TITLE.exec(title);
        lines.push(`skipped ${relative} › ${title.replace(SKIPPED_TITLE, "")}: ${why}`);
      }
    }
    if (lines.length === 0) return;
    process.stderr.write(
      `\n${lines.length} suite(s) not run: a program they need is missing here (CI=true makes this a failure)\n` +
        lines.map((line) => `  ${line}\n`).join(""),
    );
  }
}

module.exports = SkippedReporter;
