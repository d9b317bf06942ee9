"""Run the sparse-dip command line from a checkout: ``python cli.py denoise noisy.png``."""

from sparse_dip.cli import main

if __name__ == "__main__":
    main()
