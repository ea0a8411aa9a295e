#!/usr/bin/env python3
"""Runs the command tests (tests/cmd) and the integration tests (tests/integ) against the
programs of this build tree, and ends with one summary line: "N passed, N failed, N skipped".
An optional argument limits the run to matching files, e.g. "test_master*.py"."""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SUITES = [os.path.join(HERE, "cmd"), os.path.join(HERE, "integ")]
sys.path.insert(0, os.path.join(HERE, "tools"))


def main():
    pattern = sys.argv[1] if len(sys.argv) > 1 else "test_*.py"
    suite = unittest.TestSuite()
    for directory in SUITES:
        sys.path.insert(0, directory)
        suite.addTests(unittest.defaultTestLoader.discover(directory, pattern=pattern,
                                                           top_level_dir=directory))
    runner = unittest.TextTestRunner(verbosity=2, stream=sys.stdout)
    result = runner.run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    sys.exit(1 if failed or result.testsRun == 0 else 0)


if __name__ == "__main__":
    main()
