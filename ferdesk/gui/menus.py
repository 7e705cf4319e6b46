"""The window's menus and their actions (a mixin of MainWindow): what each menu holds, its shortcuts, and the
Help > Keyboard shortcuts text made from them. The handlers live in the window and its other mixins."""

from __future__ import annotations

from PyQt5.QtWidgets import QAction, QActionGroup, QMessageBox

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
    """Builds MainWindow's menu bar, and refills the source and model menus when the window asks (cameras or models changed)."""

    def _action(
        self, menu, text: str, slot, shortcut: str | None = None, checkable: bool = False, checked: bool = False
    ) -> QAction:
        """A QAction calling slot (toggled for a checkable one), added to menu unless menu is None (the source and
        model menus are refilled as things change, so their actions are made once and added on each fill)."""
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(shortcut)
        action.setCheckable(checkable)
        if checkable:
            action.setChecked(checked)
            action.toggled.connect(slot)
        else:
            action.triggered.connect(slot)
        if menu is not None:
            menu.addAction(action)
        return action

    def _choice_menu(self, parent, title: str, choices: dict, current, choose) -> dict[object, QAction]:
        """A submenu of exclusive, checkable choices ({value: text}); the one equal to current is checked, picking one
        calls choose(value). Returns {value: action}."""
        menu = parent.addMenu(title)
        group = QActionGroup(self)
        actions = {}
        for value, text in choices.items():
            action = QAction(text, self, checkable=True)
            action.setChecked(value == current)
            action.triggered.connect(lambda _=False, v=value: choose(v))
            group.addAction(action)
            menu.addAction(action)
            actions[value] = action
        return actions

    def _build_menus(self) -> None:
        bar = self.menuBar()
        self._build_file_menu(bar)
        self._build_source_menu(bar)
        self._build_model_menu(bar)
        self._build_view_menu(bar)
        self._build_help_menu(bar)

    def _build_file_menu(self, bar) -> None:
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

    def _build_source_menu(self, bar) -> None:
        self.source_menu = bar.addMenu("&Source")
        self.source_menu.aboutToShow.connect(self._fill_source_menu)
        self.demo_action = self._action(None, "&Demo faces", lambda: self.set_source("demo"), "Ctrl+D")
        self.pause_action = self._action(None, "&Pause", self._set_paused, "Space", checkable=True)
        self.next_image_action = self._action(None, "&Next image or frame", lambda: self.step_image(1), "Right")
        self.previous_image_action = self._action(None, "Pre&vious image or frame", lambda: self.step_image(-1), "Left")
        self.sequence_action = self._action(
            None,
            "Image folder is a &sequence (follow faces across images)",
            self._set_sequence,
            checkable=True,
            checked=self._bool("images/sequence", False),
        )
        self.reconnect_action = self._action(None, "&Reconnect", self.reconnect, "Ctrl+Shift+R")
        self._fill_source_menu()

    def _build_model_menu(self, bar) -> None:
        self.model_menu = bar.addMenu("&Model")
        self.model_menu.aboutToShow.connect(self._fill_model_menu)
        self.load_model_action = self._action(None, "&Load model folder…", self.load_model_folder, "Ctrl+L")
        self.card_action = self._action(None, "Model &card and report…", self.show_model_info, "Ctrl+I")
        self.retrain_action = self._action(None, "&Retrain…", self.open_retrain, "Ctrl+T")
        self.personalise_action = self._action(None, "&Teach it my face…", self.open_personalise)
        self.speed_tips_action = self._action(
            None,
            "&Suggest a lighter model when slow",
            self.set_speed_tips,
            checkable=True,
            checked=self.models.speed_tips_on(),
        )
        self._fill_model_menu()

    def _build_view_menu(self, bar) -> None:
        view_menu = bar.addMenu("&View")
        toggles = {  # key: (text, shortcut, on at start)
            "boxes": ("&Boxes", "B", self.view.show_boxes),
            "labels": ("&Labels", "L", self.view.show_labels),
            "bars": ("Probability &bars", "P", self.view.show_bars),
            "mirror": ("&Mirror image", "M", self.view.mirror),
        }
        self.view_actions = {
            key: self._action(view_menu, text, lambda on, k=key: self._set_view(k, on), shortcut, True, checked)
            for key, (text, shortcut, checked) in toggles.items()
        }
        self._build_view_choice_menus(view_menu)
        view_menu.addSeparator()
        self.summary_action = self._action(
            view_menu, "Session &summary and timeline…", self.show_summary, "Ctrl+Shift+T"
        )
        self._action(view_menu, "&Full screen", self.toggle_full_screen, "F11", True, False)

    def _build_view_choice_menus(self, view_menu) -> None:
        """View's submenus of exclusive choices: smoothing, face detection, frame-rate cap, analyse every Nth."""
        self.smoothing_actions = self._choice_menu(
            view_menu, "&Smoothing", {name: name for name in SMOOTHING_CHOICES}, self.smoothing_name, self.set_smoothing
        )
        self.detector_actions = self._choice_menu(
            view_menu, "Face &detection", FACE_DETECTION, self.detector_mode, self.set_detector_mode
        )
        self.frame_rate_actions = self._choice_menu(
            view_menu,
            "Frame-rate &cap",
            {fps: f"{fps} FPS" if fps else "Off" for fps in FRAME_RATE_CAPS},
            self.max_fps,
            self.set_frame_rate_cap,
        )
        every = {
            n: "Every frame" if n == 1 else f"One in {n}: the frames between keep the last boxes"
            for n in ANALYSE_EVERY_CHOICES
        }
        self.analyse_every_actions = self._choice_menu(
            view_menu, "&Analyse every Nth frame (low power)", every, self.analyse_every, self.set_analyse_every
        )

    def _build_help_menu(self, bar) -> None:
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

    # The source and model menus change with the cameras plugged in and the model folders found.
    def _fill_source_menu(self) -> None:
        menu = self.source_menu
        menu.clear()
        self.sources.add_cameras_to(menu)
        menu.addAction(self.demo_action)
        menu.addSeparator()
        menu.addAction(self.pause_action)
        menu.addAction(self.reconnect_action)
        menu.addSeparator()
        menu.addAction(self.previous_image_action)
        menu.addAction(self.next_image_action)
        menu.addAction(self.sequence_action)

    def _fill_model_menu(self) -> None:
        menu = self.model_menu
        menu.clear()
        self.models.add_models_to(menu)
        menu.addSeparator()
        for action in (self.load_model_action, self.card_action, self.retrain_action, self.personalise_action):
            menu.addAction(action)
        menu.addSeparator()
        menu.addAction(self.speed_tips_action)

    def show_shortcuts(self) -> None:
        box = QMessageBox(QMessageBox.Information, "Keyboard shortcuts", self.shortcuts_text(), parent=self)
        box.setStyleSheet("QLabel { font-family: monospace; }")
        box.exec_()
