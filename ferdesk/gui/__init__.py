"""The PyQt5 desktop app. It drives ferdesk.pipeline and shows its results; it holds no ML or capture logic."""

import os

import cv2  # noqa: F401  (must come before the line below)

# A non-headless OpenCV wheel points Qt at its own plugin folder on import, which makes PyQt5 abort on a
# real display ("could not load the Qt platform plugin xcb"). Every GUI entry point imports this package first.
os.environ.pop("QT_QPA_PLATFORM_PLUGIN_PATH", None)
