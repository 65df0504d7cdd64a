"""Reads schemathesis' summaries (one per run): prints the generated cases and the
failures, summed, and fails when there is any failure or fewer cases than asked for.

    count.py OUTPUT MIN_CASES
"""

import re
import sys

text = open(sys.argv[1], encoding="utf-8").read()
wanted = int(sys.argv[2])
summaries = re.findall(r"Test cases:\s*\n\s*(\d+) generated(.*)", text)
if not summaries:
    sys.exit("contract: schemathesis printed no summary")


def total(pattern):
    found = (re.search(pattern, rest) for _, rest in summaries)
    return sum(int(m.group(1)) for m in found if m)


cases = sum(int(n) for n, _ in summaries)
failures = total(r"(\d+) unique failures?")
errored = total(r"(\d+) errors?")
print(f"contract: {cases} cases generated, {failures} failures, {errored} errors")
if failures or errored:
    sys.exit(1)
if cases < wanted:
    sys.exit(f"contract: fewer cases than {wanted}; raise CONTRACT_EXAMPLES")
