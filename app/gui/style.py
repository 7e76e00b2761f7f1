"""The look: Fusion with a dark palette and a small style sheet (accent Run, red Stop, amber bar)."""

from __future__ import annotations

from importlib.resources import files

from PyQt6.QtGui import QColor, QPalette
from PyQt6.QtWidgets import QApplication, QLabel, QVBoxLayout, QWidget

__all__ = ["STYLE_SHEET", "apply_style", "icon_path", "titled"]

STYLE_SHEET = """
QMainWindow, QWidget#central { background: #1e2026; }
QLineEdit#task_edit { font-size: 15px; padding: 8px 10px; border-radius: 6px;
    border: 1px solid #3a3f4b; background: #272a31; color: #e8eaed; }
QLineEdit#task_edit:focus { border: 1px solid #4f8cff; }
QPushButton { padding: 7px 16px; border-radius: 6px; border: 1px solid #3a3f4b;
    background: #2c3038; color: #e8eaed; }
QPushButton:hover { background: #353a44; }
QPushButton:disabled { color: #6b717c; background: #24272d; border-color: #2c3038; }
QPushButton#run_button { background: #2f6fed; border-color: #2f6fed; font-weight: bold; }
QPushButton#run_button:hover { background: #4a82f0; }
QPushButton#run_button:disabled { background: #263552; border-color: #263552; color: #8390a8; }
QPushButton#stop_button:enabled { background: #c2393b; border-color: #c2393b; font-weight: bold; }
QPushButton#pause_button:checked { background: #a36f12; border-color: #a36f12; }
QPushButton#mic_button { font-size: 17px; padding: 0; }
QFrame#confirm_bar { background: #4a3a12; border: 1px solid #d99a1e; border-radius: 8px; }
QFrame#confirm_bar QLabel { color: #fff4dc; font-size: 14px; }
QFrame#confirm_bar QPushButton#accept { background: #2f9e55; border-color: #2f9e55; }
QFrame#confirm_bar QPushButton#reject { background: #c2393b; border-color: #c2393b; }
QTreeWidget, QTextBrowser { background: #23262c; alternate-background-color: #272a31;
    border: 1px solid #30343d; border-radius: 6px; color: #dfe2e6; }
QTreeWidget::item { padding: 4px 2px; }
QTreeWidget::item:selected { background: #2f4f8a; }
QHeaderView::section { background: #2a2d34; color: #aab0ba; border: none; padding: 5px 6px; }
QLabel#section_title { color: #aab0ba; font-weight: bold; padding: 2px 0; }
QStatusBar { background: #191b20; color: #aab0ba; }
QStatusBar QLabel { padding: 0 8px; }
QComboBox, QCheckBox { color: #dfe2e6; }
QComboBox { padding: 4px 8px; border: 1px solid #3a3f4b; border-radius: 5px; background: #272a31; }
QComboBox::drop-down { border: none; width: 24px; }
QComboBox::down-arrow { image: url(@ICONS@/chevron-down.svg); width: 12px; height: 12px; }
QComboBox QAbstractItemView { background: #272a31; color: #e8eaed; selection-background-color: #2f4f8a; }
QCheckBox::indicator { width: 16px; height: 16px; border: 1px solid #6b717c; border-radius: 4px;
    background: #272a31; }
QCheckBox::indicator:checked { background: #2f6fed; border-color: #2f6fed;
    image: url(@ICONS@/check.svg); }
QCheckBox::indicator:disabled { border-color: #3a3f4b; }
QSplitter::handle { background: #1e2026; }
QDialog { background: #1e2026; }
QTabWidget::pane { border: 1px solid #30343d; background: #23262c; border-radius: 6px; top: -1px; }
QTabBar::tab { background: #2a2d34; color: #aab0ba; padding: 6px 14px; border: none; margin-right: 2px;
    border-top-left-radius: 5px; border-top-right-radius: 5px; }
QTabBar::tab:selected { background: #23262c; color: #e8eaed; }
QSpinBox, QDoubleSpinBox, QLineEdit { background: #272a31; border: 1px solid #3a3f4b; border-radius: 4px;
    padding: 3px 6px; color: #e8eaed; }
QSpinBox:focus, QDoubleSpinBox:focus, QLineEdit:focus { border-color: #4f8cff; }
QToolTip { background: #2c3038; color: #e8eaed; border: 1px solid #3a3f4b; padding: 4px; }
QWidget#setup_panel QLabel#setup_title { font-size: 20px; font-weight: bold; color: #e8eaed; }
QWidget#setup_panel QLabel#setup_machine { color: #aab0ba; }
QWidget#setup_panel QLabel#setup_error { color: #ff8a80; }
QGroupBox { border: 1px solid #30343d; border-radius: 6px; margin-top: 14px; padding: 12px 10px 10px 10px;
    background: #23262c; }
QGroupBox::title { subcontrol-origin: margin; left: 10px; padding: 0 4px; color: #aab0ba; font-weight: bold; }
QProgressBar { border: 1px solid #3a3f4b; border-radius: 4px; background: #272a31; height: 10px; }
QProgressBar::chunk { background: #2f6fed; border-radius: 3px; }
QPushButton#download_button:enabled { background: #2f6fed; border-color: #2f6fed; font-weight: bold; }
QListWidget { background: #23262c; alternate-background-color: #272a31; border: 1px solid #30343d;
    border-radius: 4px; color: #dfe2e6; }
QListWidget::item { padding: 2px 4px; }
QListWidget::item:selected { background: #2f4f8a; }
QScrollBar:vertical { background: #23262c; width: 10px; margin: 0; }
QScrollBar:horizontal { background: #23262c; height: 10px; margin: 0; }
QScrollBar::handle { background: #3a3f4b; border-radius: 4px; min-height: 24px; min-width: 24px; }
QScrollBar::handle:hover { background: #4a505c; }
QScrollBar::add-line, QScrollBar::sub-line { width: 0; height: 0; }
QScrollBar::add-page, QScrollBar::sub-page { background: none; }
QScrollArea { background: transparent; }
QScrollArea > QWidget > QWidget { background: transparent; }
"""


def apply_style(app: QApplication) -> None:
    app.setStyle("Fusion")
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#1e2026",
        QPalette.ColorRole.WindowText: "#e8eaed",
        QPalette.ColorRole.Base: "#23262c",
        QPalette.ColorRole.AlternateBase: "#272a31",
        QPalette.ColorRole.Text: "#e8eaed",
        QPalette.ColorRole.Button: "#2c3038",
        QPalette.ColorRole.ButtonText: "#e8eaed",
        QPalette.ColorRole.Highlight: "#2f6fed",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.ToolTipBase: "#2c3038",
        QPalette.ColorRole.ToolTipText: "#e8eaed",
        QPalette.ColorRole.PlaceholderText: "#7d838e",
    }
    for role, colour in roles.items():
        palette.setColor(role, QColor(colour))
    app.setPalette(palette)
    app.setStyleSheet(STYLE_SHEET.replace("@ICONS@", icon_path("").rstrip("/")))


def icon_path(name: str) -> str:
    """The file path of an icon in ``assets/icons`` (Qt style sheets and QIcon need a real path)."""
    return str(files("omnidesk.assets").joinpath("icons", name))


def titled(title: str, widget: QWidget) -> QWidget:
    """``widget`` under a section title styled as ``QLabel#section_title``."""
    box = QWidget(widget.parentWidget())
    label = QLabel(title, box)
    label.setObjectName("section_title")
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(4)
    layout.addWidget(label)
    layout.addWidget(widget, 1)
    return box
