"""Reads schemathesis' summary: prints the generated cases and the failures, and fails
when there is any failure or fewer cases than asked for.

    count.py OUTPUT MIN_CASES
"""

import re
import sys

text = open(sys.argv[1], encoding="utf-8").read()
wanted = int(sys.argv[2])
summary = re.search(r"Test cases:\s*\n\s*(\d+) generated(.*)", text)
if not summary:
    sys.exit("contract: schemathesis printed no summary")
cases = int(summary.group(1))
failed = re.search(r"(\d+) unique failures?", summary.group(2))
failures = int(failed.group(1)) if failed else 0
errors = re.search(r"(\d+) errors?", summary.group(2))
errored = int(errors.group(1)) if errors else 0
print(f"contract: {cases} cases generated, {failures} failures, {errored} errors")
if failures or errored:
    sys.exit(1)
if cases < wanted:
    sys.exit(f"contract: fewer cases than {wanted}; raise CONTRACT_EXAMPLES")
