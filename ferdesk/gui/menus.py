"""The window's menus and their actions (a mixin of MainWindow): what each menu holds, its shortcuts, and the
Help > Keyboard shortcuts text made from them. The handlers live in the window and its other mixins."""

from __future__ import annotations

from PyQt5.QtWidgets import QAction, QActionGroup

from ferdesk.defaults import ANALYSE_EVERY_CHOICES, FRAME_RATE_CAPS, SMOOTHING


# View > Smoothing: the share of each new frame in a face's probabilities ("Medium" is the default).
SMOOTHING_CHOICES = {"Off": 1.0, "Light": 0.6, "Medium": SMOOTHING, "Strong": 0.2}
# View > Face detection: the menu's words for ferdesk.detect.DETECTOR_MODES.
FACE_DETECTION = {
    "auto": "&Automatic: near, far and small faces",
    "short": "&Near the camera only (fastest)",
    "full": "Whole frame, &full-range model",
    "tiled": "&Scan every frame (slowest)",
}


class MenusMixin:
    """Builds MainWindow's menu bar; the source and model menus are refilled by the window as things change."""

    def _action(
        self, menu, text: str, slot, shortcut: str | None = None, checkable: bool = False, checked: bool = False
    ) -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(shortcut)
        action.setCheckable(checkable)
        if checkable:
            action.setChecked(checked)
            action.toggled.connect(slot)
        else:
            action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self.open_action = self._action(file_menu, "&Open video or image…", self.open_file, "Ctrl+O")
        self.open_folder_action = self._action(file_menu, "Open image &folder…", self.open_folder, "Ctrl+Shift+O")
        file_menu.addSeparator()
        self.snapshot_action = self._action(file_menu, "Save &snapshot", self.save_snapshot, "Ctrl+S")
        self.snapshot_as_action = self._action(file_menu, "Save snapshot &as…", self.save_snapshot_as, "Ctrl+Shift+S")
        self.record_action = self._action(
            file_menu, "&Record annotated video", self.toggle_recording, "Ctrl+R", checkable=True
        )
        self.export_action = self._action(file_menu, "&Export face log (CSV/JSON)…", self.export_log, "Ctrl+E")
        file_menu.addSeparator()
        self.quit_action = self._action(file_menu, "&Quit", self.quit_asking, "Ctrl+Q")

        self.source_menu = bar.addMenu("&Source")
        self.source_menu.aboutToShow.connect(self._fill_source_menu)
        self.demo_action = QAction("&Demo faces", self)
        self.demo_action.setShortcut("Ctrl+D")
        self.demo_action.triggered.connect(lambda: self.set_source("demo"))
        self.pause_action = QAction("&Pause", self, checkable=True)
        self.pause_action.setShortcut("Space")
        self.pause_action.toggled.connect(self._set_paused)
        self.next_image_action = QAction("&Next image or frame", self)
        self.next_image_action.setShortcut("Right")
        self.next_image_action.triggered.connect(lambda: self.step_image(1))
        self.previous_image_action = QAction("Pre&vious image or frame", self)
        self.previous_image_action.setShortcut("Left")
        self.previous_image_action.triggered.connect(lambda: self.step_image(-1))
        self.sequence_action = QAction("Image folder is a &sequence (follow faces across images)", self, checkable=True)
        self.sequence_action.setChecked(self._bool("images/sequence", False))
        self.sequence_action.toggled.connect(self._set_sequence)
        self.reconnect_action = QAction("&Reconnect", self)
        self.reconnect_action.setShortcut("Ctrl+Shift+R")
        self.reconnect_action.triggered.connect(self.reconnect)
        self._fill_source_menu()

        self.model_menu = bar.addMenu("&Model")
        self.model_menu.aboutToShow.connect(self._fill_model_menu)
        self.load_model_action = QAction("&Load model folder…", self)
        self.load_model_action.setShortcut("Ctrl+L")
        self.load_model_action.triggered.connect(self.load_model_folder)
        self.card_action = QAction("Model &card and report…", self)
        self.card_action.setShortcut("Ctrl+I")
        self.card_action.triggered.connect(self.show_model_info)
        self.retrain_action = QAction("&Retrain…", self)
        self.retrain_action.setShortcut("Ctrl+T")
        self.retrain_action.triggered.connect(self.open_retrain)
        self.personalise_action = QAction("&Teach it my face…", self)
        self.personalise_action.triggered.connect(self.open_personalise)
        self._fill_model_menu()

        view_menu = bar.addMenu("&View")
        self.view_actions = {
            "boxes": self._action(
                view_menu, "&Boxes", lambda on: self._set_view("boxes", on), "B", True, self.view.show_boxes
            ),
            "labels": self._action(
                view_menu, "&Labels", lambda on: self._set_view("labels", on), "L", True, self.view.show_labels
            ),
            "bars": self._action(
                view_menu, "Probability &bars", lambda on: self._set_view("bars", on), "P", True, self.view.show_bars
            ),
            "mirror": self._action(
                view_menu, "&Mirror image", lambda on: self._set_view("mirror", on), "M", True, self.view.mirror
            ),
        }
        smoothing_menu = view_menu.addMenu("&Smoothing")
        group = QActionGroup(self)
        self.smoothing_actions = {}
        for name in SMOOTHING_CHOICES:
            action = QAction(name, self, checkable=True)
            action.setChecked(name == self.smoothing_name)
            action.triggered.connect(lambda _=False, n=name: self.set_smoothing(n))
            group.addAction(action)
            smoothing_menu.addAction(action)
            self.smoothing_actions[name] = action
        detection_menu = view_menu.addMenu("Face &detection")
        group = QActionGroup(self)
        self.detector_actions = {}
        for mode, text in FACE_DETECTION.items():
            action = QAction(text, self, checkable=True)
            action.setChecked(mode == self.detector_mode)
            action.triggered.connect(lambda _=False, m=mode: self.set_detector_mode(m))
            group.addAction(action)
            detection_menu.addAction(action)
            self.detector_actions[mode] = action
        cap_menu = view_menu.addMenu("Frame-rate &cap")
        group = QActionGroup(self)
        self.frame_rate_actions = {}
        for fps in FRAME_RATE_CAPS:
            action = QAction(f"{fps} FPS" if fps else "Off", self, checkable=True)
            action.setChecked(fps == self.max_fps)
            action.triggered.connect(lambda _=False, f=fps: self.set_frame_rate_cap(f))
            group.addAction(action)
            cap_menu.addAction(action)
            self.frame_rate_actions[fps] = action
        every_menu = view_menu.addMenu("&Analyse every Nth frame (low power)")
        group = QActionGroup(self)
        self.analyse_every_actions = {}
        for n in ANALYSE_EVERY_CHOICES:
            text = "Every frame" if n == 1 else f"One in {n}: the frames between keep the last boxes"
            action = QAction(text, self, checkable=True)
            action.setChecked(n == self.analyse_every)
            action.triggered.connect(lambda _=False, k=n: self.set_analyse_every(k))
            group.addAction(action)
            every_menu.addAction(action)
            self.analyse_every_actions[n] = action
        view_menu.addSeparator()
        self.summary_action = self._action(
            view_menu, "Session &summary and timeline…", self.show_summary, "Ctrl+Shift+T"
        )
        self._action(view_menu, "&Full screen", self.toggle_full_screen, "F11", True, False)

        help_menu = bar.addMenu("&Help")
        self.guide_action = self._action(help_menu, "&User guide", self.show_user_guide)
        self._action(help_menu, "&Keyboard shortcuts", self.show_shortcuts, "F1")
        self._action(help_menu, "&About ferdesk", self.show_about)

    def shortcuts_text(self) -> str:
        rows = []
        for menu in self.menuBar().findChildren(type(self.source_menu)):
            for action in menu.actions():
                if action.shortcut().toString():
                    rows.append(f"{action.shortcut().toString():<14} {action.text().replace('&', '')}")
        for action in (
            self.demo_action,
            self.pause_action,
            self.reconnect_action,
            self.load_model_action,
            self.card_action,
            self.retrain_action,
        ):
            line = f"{action.shortcut().toString():<14} {action.text().replace('&', '')}"
            if line not in rows:
                rows.append(line)
        return "\n".join(sorted(set(rows)))
