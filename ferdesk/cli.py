"""The `ferdesk` command: the desktop app by default, `ferdesk annotate ...` for headless runs over files."""

from __future__ import annotations

import logging
import os
import sys

from ferdesk.defaults import LOG_LEVEL, LOG_LEVEL_ENV


def configure_logging() -> None:
    """Log lines (problems the app also shows in its window, worker errors) go to stderr as `ferdesk: LEVEL: text`,
    from LOG_LEVEL up (or $FERDESK_LOG_LEVEL's level); a second call changes nothing."""
    level = os.environ.get(LOG_LEVEL_ENV, LOG_LEVEL).upper()
    logging.basicConfig(
        stream=sys.stderr,
        format="ferdesk: %(levelname)s: %(message)s",
        level=level if isinstance(logging.getLevelName(level), int) else LOG_LEVEL,
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    configure_logging()
    if argv and argv[0] == "annotate":
        from ferdesk.signals import ctrl_c_held

        try:
            with ctrl_c_held():  # numpy and OpenCV load here
                from ferdesk.annotate import main as annotate_main
        except KeyboardInterrupt:
            print("ferdesk annotate: interrupted", file=sys.stderr)
            return 130
        return annotate_main(argv[1:])
    if argv and argv[0] == "cameras":
        from ferdesk.sources import list_cameras

        cameras = list_cameras()
        print("\n".join(f"camera {i}" for i in cameras) if cameras else "no cameras found")
        return 0
    from ferdesk.gui.app import main as gui_main

    return gui_main(argv)


if __name__ == "__main__":
    sys.exit(main())
