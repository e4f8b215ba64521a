"""Runs the Python tests and prints one JSON object per test on stdout, so that the node suite
(test/executor/python-tracer.test.ts) reports each as a pass, a failure or a skip with its reason:
a test skipped here (the sys.monitoring backend on Python 3.11) must show as skipped there.

    python3 test/python/report.py
"""

import json
import os
import sys
import unittest


class JsonResult(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.records = {}

    def _record(self, test, status, detail=""):
        name = test.id()
        previous = self.records.get(name)
        if previous is not None and previous["status"] == "fail":
            return  # a failed subtest keeps the test failed
        self.records[name] = {"name": name, "status": status, "detail": detail}

    def addSuccess(self, test):
        self.records.setdefault(test.id(), {"name": test.id(), "status": "pass", "detail": ""})

    def addFailure(self, test, err):
        self._record(test, "fail", self._exc_info_to_string(err, test))

    def addError(self, test, err):
        self._record(test, "fail", self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):
        self._record(test, "skip", reason)

    def addSubTest(self, test, subtest, err):
        if err is not None:
            self._record(test, "fail", "%s\n%s" % (subtest.id(), self._exc_info_to_string(err, subtest)))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    suite = unittest.defaultTestLoader.discover(here, pattern="test_*.py", top_level_dir=here)
    result = JsonResult()
    suite.run(result)
    for record in result.records.values():
        print(json.dumps(record))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
