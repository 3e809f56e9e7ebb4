import sys

from cloudburst._cli import main

sys.exit(main())
