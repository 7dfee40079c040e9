"""`python -m kafka_medic.cli`: the `kafka-medic` command without the installed script (tests, venvs)."""

import sys

from kafka_medic.cli import main

sys.exit(main())
