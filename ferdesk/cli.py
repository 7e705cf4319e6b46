"""The `ferdesk` command: the desktop app by default, `ferdesk annotate ...` for headless runs over files."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
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
