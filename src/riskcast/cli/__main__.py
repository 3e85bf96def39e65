"""``python -m riskcast.cli ...``: the same command line as the ``riskcast`` script."""

from riskcast.cli import main

main()
