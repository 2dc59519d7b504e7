"""Find text that does not fit: labels, buttons, tabs, header sections and item cells.

The check uses the widgets' own font metrics (what Qt will draw), never pixels of a
screenshot, so it is exact and independent of the theme's colours. A piece of text
"fits" when the room Qt gives it is at least the text's advance plus the margins the
style adds around it. What it reports, as ``"<path>: <what> '<text>' needs N px, has M"``:

- a QLabel (plain text, one line) narrower than its text; a word-wrapped one shorter
  than the height its text needs at its width;
- a button (push, tool, check, radio) narrower than its text and icon;
- a tab (QTabBar, including the tabs of tabified docks) narrower than its text;
- a header section (QHeaderView) narrower than its title;
- an item-view cell whose text does not fit its column, unless the cell carries the full
  text as its tooltip (the one allowed elision: names that are user data);
- a QGroupBox title or QComboBox entry that is cut.

Widgets that are not visible (hidden, on another tab, scrolled into a QScrollArea) are
not judged by their visibility on screen but by the room their layout gave them; a
widget inside a scroll area may extend past the viewport, that is what scrolling is for.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QFontMetrics, QTextDocument
from PySide6.QtGui import Qt as GuiQt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QGroupBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QStyle,
    QTabBar,
    QToolButton,
    QTreeView,
    QWidget,
)

#: Pixels of slack: Qt rounds advances; one pixel short is not "cut".
SLACK = 1


def _plain(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")


def _name(w: QWidget) -> str:
    parts = []
    node: QWidget | None = w
    while node is not None and len(parts) < 4:
        label = node.objectName() or type(node).__name__
        parts.append(label)
        node = node.parentWidget()
    return "/".join(reversed(parts))


def _shown(w: QWidget) -> bool:
    """Visible, and not inside a hidden ancestor (``isVisible`` covers both)."""
    return w.isVisible() and w.width() > 0 and w.height() > 0


def _label_problems(label: QLabel) -> list[str]:
    text = label.text()
    if not text or label.pixmap() is not None and not label.pixmap().isNull():
        return []
    fm = label.fontMetrics()
    rect = label.contentsRect()
    margin = label.margin() * 2 + max(label.indent(), 0) if label.indent() > 0 else label.margin() * 2
    rich = label.textFormat() == Qt.TextFormat.RichText or (
        label.textFormat() == Qt.TextFormat.AutoText and GuiQt.mightBeRichText(text))
    if label.wordWrap():
        doc = QTextDocument()
        doc.setDefaultFont(label.font())
        doc.setDocumentMargin(0)
        if rich:
            doc.setHtml(text)
        else:
            doc.setPlainText(text)
        doc.setTextWidth(max(rect.width() - margin, 1))
        need_h = int(doc.size().height())
        if need_h > rect.height() + 2 * SLACK + 2:
            return [f"{_name(label)}: wrapped label '{_short(doc.toPlainText())}' needs {need_h} px high, "
                    f"has {rect.height()}"]
        return []
    if rich:
        doc = QTextDocument()
        doc.setDefaultFont(label.font())
        doc.setDocumentMargin(0)
        doc.setHtml(text)
        need = int(doc.idealWidth())
        plain = doc.toPlainText()
    else:
        plain = _plain(text) if label.buddy() is not None else text
        need = max(fm.horizontalAdvance(line) for line in plain.split("\n"))
    need += margin
    if need > rect.width() + SLACK:
        return [f"{_name(label)}: label '{_short(plain)}' needs {need} px, has {rect.width()}"]
    lines = text.count("\n") + 1 if not rich else 1
    if lines * fm.height() > rect.height() + fm.leading() * lines + 2:
        return [f"{_name(label)}: label '{_short(plain)}' needs {lines * fm.height()} px high, has {rect.height()}"]
    return []


def _button_need(button: QAbstractButton) -> int:
    fm = button.fontMetrics()
    text = _plain(button.text())
    icon = 0 if button.icon().isNull() else button.iconSize().width() + 4
    if isinstance(button, (QCheckBox, QRadioButton)):
        style = button.style()
        indicator = style.pixelMetric(QStyle.PixelMetric.PM_IndicatorWidth if isinstance(button, QCheckBox)
                                      else QStyle.PixelMetric.PM_ExclusiveIndicatorWidth, None, button)
        spacing = style.pixelMetric(QStyle.PixelMetric.PM_CheckBoxLabelSpacing, None, button)
        return fm.horizontalAdvance(text) + indicator + spacing + icon
    if isinstance(button, QToolButton):
        style = button.toolButtonStyle()
        if style == Qt.ToolButtonStyle.ToolButtonIconOnly and not button.icon().isNull():
            return 0
        if not text:
            return 0
        menu = 10 if button.popupMode() == QToolButton.ToolButtonPopupMode.MenuButtonPopup else 0
        return fm.horizontalAdvance(text) + icon + 4 + menu
    if not text:
        return 0
    frame = button.style().pixelMetric(QStyle.PixelMetric.PM_ButtonMargin, None, button)
    return fm.horizontalAdvance(text) + icon + frame


def _button_problems(button: QAbstractButton) -> list[str]:
    need = _button_need(button)
    if need and need > button.width() + SLACK:
        return [f"{_name(button)}: button '{_plain(button.text())}' needs {need} px, has {button.width()}"]
    return []


def _tab_problems(bar: QTabBar) -> list[str]:
    out = []
    fm = bar.fontMetrics()
    for i in range(bar.count()):
        if not bar.isTabVisible(i):
            continue
        text = _plain(bar.tabText(i))
        icon = 0 if bar.tabIcon(i).isNull() else bar.iconSize().width() + 4
        close = 16 if bar.tabsClosable() else 0
        horizontal = bar.shape() in (QTabBar.Shape.RoundedNorth, QTabBar.Shape.RoundedSouth,
                                     QTabBar.Shape.TriangularNorth, QTabBar.Shape.TriangularSouth)
        room = bar.tabRect(i).width() if horizontal else bar.tabRect(i).height()
        need = fm.horizontalAdvance(text) + icon + close + 8
        if need > room + SLACK:
            out.append(f"{_name(bar)}: tab '{text}' needs {need} px, has {room}")
        if bar.usesScrollButtons() and not bar.rect().contains(bar.tabRect(i)):
            out.append(f"{_name(bar)}: tab '{text}' is scrolled out of its tab bar")
    return out


def _header_problems(header: QHeaderView) -> list[str]:
    model = header.model()
    if model is None:
        return []
    out = []
    fm = header.fontMetrics()
    margin = header.style().pixelMetric(QStyle.PixelMetric.PM_HeaderMargin, None, header)
    count = header.count()
    for logical in range(count):
        if header.isSectionHidden(logical):
            continue
        size = header.sectionSize(logical)
        if size <= 0:
            continue
        text = str(model.headerData(logical, header.orientation(), Qt.ItemDataRole.DisplayRole) or "")
        if not text:
            continue
        need = fm.horizontalAdvance(text) + 2 * margin
        if header.isSortIndicatorShown() and header.sortIndicatorSection() == logical:
            need += header.style().pixelMetric(QStyle.PixelMetric.PM_HeaderMarkSize, None, header)
        if header.orientation() == Qt.Orientation.Vertical:
            continue  # row numbers: Qt sizes them to fit
        if need > size + SLACK:
            out.append(f"{_name(header)}: header '{text}' needs {need} px, has {size}")
        pos = header.sectionViewportPosition(logical)
        if pos + min(size, need) > header.viewport().width() + SLACK:
            out.append(f"{_name(header)}: column '{text}' is cut by the view's right edge "
                       f"(ends at {pos + min(size, need)} px of {header.viewport().width()})")
    return out


def _scroll_area_problems(area: QScrollArea) -> list[str]:
    """A panel wider than the room it has: its right part is cut until the user scrolls."""
    inner = area.widget()
    if inner is None or not area.horizontalScrollBar().isVisible():
        return []
    return [f"{_name(area)}: the panel {type(inner).__name__} needs {inner.minimumSizeHint().width()} px wide, "
            f"has {area.viewport().width()} (scrolls sideways)"]


def _cell_problems(view: QAbstractItemView, max_rows: int = 200) -> list[str]:
    model = view.model()
    if model is None or view.viewport().width() <= 0:
        return []
    out: list[str] = []
    fm = QFontMetrics(view.font())
    pad = 2 * (view.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, view) + 1)

    def columns(parent: QModelIndex) -> int:
        try:
            return model.columnCount(parent)
        except TypeError:  # a list model (QListWidget's): columnCount is private, one column
            return 1

    def visit(parent: QModelIndex, depth: int) -> None:
        for row in range(min(model.rowCount(parent), max_rows)):
            for col in range(columns(parent)):
                index = model.index(row, col, parent)
                rect = view.visualRect(index)
                if rect.width() <= 0 or rect.height() <= 0:
                    continue
                text = model.data(index, Qt.ItemDataRole.DisplayRole)
                if text is None or str(text) == "":
                    continue
                lines = str(text).split("\n")
                tip = model.data(index, Qt.ItemDataRole.ToolTipRole)
                if tip is not None and all(line in str(tip) for line in lines):
                    continue  # elided on purpose: the full text is its tooltip
                text = max(lines, key=len)
                cell_font = model.data(index, Qt.ItemDataRole.FontRole)
                metrics = QFontMetrics(cell_font) if cell_font is not None else fm
                icon = model.data(index, Qt.ItemDataRole.DecorationRole)
                icon_w = view.iconSize().width() + 4 if icon is not None and view.iconSize().width() > 0 else 0
                if icon is not None and view.iconSize().width() <= 0:
                    icon_w = 20
                check = 20 if model.data(index, Qt.ItemDataRole.CheckStateRole) is not None else 0
                need = max(metrics.horizontalAdvance(line) for line in lines) + icon_w + check + pad
                if need > rect.width() + SLACK:
                    header = model.headerData(col, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole)
                    out.append(f"{_name(view)}: cell '{_short(text)}' (column '{header}') needs {need} px, "
                               f"has {rect.width()}")
            if isinstance(view, QTreeView) and model.hasChildren(model.index(row, 0, parent)):
                if view.isExpanded(model.index(row, 0, parent)):
                    visit(model.index(row, 0, parent), depth + 1)

    visit(QModelIndex(), 0)
    return out[:20]


def _group_problems(box: QGroupBox) -> list[str]:
    text = _plain(box.title())
    if not text:
        return []
    need = box.fontMetrics().horizontalAdvance(text) + (24 if box.isCheckable() else 8)
    if need > box.width() + SLACK:
        return [f"{_name(box)}: group title '{text}' needs {need} px, has {box.width()}"]
    return []


def _combo_problems(combo: QComboBox) -> list[str]:
    text = combo.currentText()
    if not text or combo.isEditable():
        return []
    tip = combo.itemData(combo.currentIndex(), Qt.ItemDataRole.ToolTipRole)
    if tip is not None and text in str(tip):
        return []
    icon = 0 if combo.itemIcon(combo.currentIndex()).isNull() else combo.iconSize().width() + 4
    arrow = combo.style().pixelMetric(QStyle.PixelMetric.PM_MenuButtonIndicator, None, combo)
    need = combo.fontMetrics().horizontalAdvance(text) + icon + arrow + 12
    if need > combo.width() + SLACK:
        return [f"{_name(combo)}: combo entry '{_short(text)}' needs {need} px, has {combo.width()}"]
    return []


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "…"


def clipped_text(root: QWidget, *, skip: Iterable[QWidget] = ()) -> list[str]:
    """Every piece of cut text in the visible widgets under ``root`` (and ``root`` itself)."""
    skipped = set(map(id, skip))
    problems: list[str] = []
    for w in [root, *root.findChildren(QWidget)]:
        if id(w) in skipped or not _shown(w):
            continue
        if isinstance(w, QLabel):
            problems += _label_problems(w)
        elif isinstance(w, QAbstractButton) and not isinstance(w, QPushButton | QToolButton | QCheckBox |
                                                                  QRadioButton):
            continue
        elif isinstance(w, QAbstractButton):
            if w.parentWidget() is not None and isinstance(w.parentWidget(), QTabBar):
                continue  # a tab's close or scroll button
            problems += _button_problems(w)
        elif isinstance(w, QTabBar):
            problems += _tab_problems(w)
        elif isinstance(w, QHeaderView):
            problems += _header_problems(w)
        elif isinstance(w, QGroupBox):
            problems += _group_problems(w)
        elif isinstance(w, QComboBox):
            problems += _combo_problems(w)
        if isinstance(w, QScrollArea) and not isinstance(w, QAbstractItemView):
            problems += _scroll_area_problems(w)
        if isinstance(w, QAbstractItemView) and not isinstance(w, QHeaderView):
            problems += _cell_problems(w)
    return problems
