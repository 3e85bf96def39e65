"""``python -m riskcast ...``: the same command line as the ``riskcast`` script."""

from riskcast.cli import main

main()
