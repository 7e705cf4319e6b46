"""The PyQt5 desktop app. It drives ferdesk.pipeline and shows its results; it holds no ML or capture logic."""
