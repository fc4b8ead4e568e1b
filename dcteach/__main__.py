"""``python -m dcteach ...`` (also under ``torchrun --nproc_per_node N -m dcteach run ...``)."""

import sys

from .cli import main

sys.exit(main())
