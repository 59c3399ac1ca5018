"""`python -m nasdsl`: the command line, as torchrun launches it
(`torchrun --nproc_per_node=N -m nasdsl run ...`)."""

from nasdsl.cli import main

raise SystemExit(main())
