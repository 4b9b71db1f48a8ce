import sys

from bot.cli import main

# Guarded: a worker process started with "spawn" imports this module again (as __mp_main__) and must not run.
if __name__ == "__main__":
    sys.exit(main())
