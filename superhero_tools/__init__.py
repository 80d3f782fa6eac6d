"""The operator's tools around the product: what a Dagster deployment does not load.

- `cli.py`: the `superhero` command line, which wires these tools and the product's own
  commands (`superhero_assets/cli/`) into one parser;
- `settings.py`: where the local services live (addresses, folders, versions), read from
  the environment;
- `stack/`: the local Kafka, Redis and object stores, as real processes;
- `simulator/`: the game that writes the log stream the product loads;
- `bench/`, `chaos/`: throughput against the raw consumer, and real faults reconciled;
- `demo.py`, `devserver.py`, `worker.py`: the main job end to end, `dagster dev` on the
  project, and a run per Redis pub/sub message.

Tools may import the product (`superhero_assets`); the product never imports the tools
(tests/unit/test_layout.py checks).
"""
