"""`python -m superhero_tools.bench KIND SPEC`: one measured phase, in a child process.

Its own module, so that the package's imports do not load it twice (runpy would warn).
"""

import json
import sys

from superhero_tools.bench.measure import measure_ceiling, measure_product

if __name__ == "__main__":
    kind, spec = sys.argv[1], json.loads(sys.argv[2])
    print(json.dumps({"ceiling": measure_ceiling, "product": measure_product}[kind](spec)))
