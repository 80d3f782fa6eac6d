"""`superhero chaos`: real faults on a dedicated stack, then a reconciliation.

- `cli.py`: the command, its fault schedule and the run from start to verdict;
- `rig.py`: the chaos stack, its topics and output, and the loader runs started there;
- `faults.py`: each kind of fault, against a real loader run;
- `producer.py`: the producer process, and its ledger of what the broker acknowledged;
- `reconcile.py`, `checks.py`: the tables against the ledger, and the asset checks'
  questions over the whole output.
"""
