"""``python -m checker``: the ``noticer`` command."""
from checker.launch import main

if __name__ == "__main__":
    main()
