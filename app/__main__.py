"""``python -m app [PROJECT]``: the editor. With no project it opens the demo project."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="facesmith-editor", description="The Facesmith editor.")
    parser.add_argument("project", nargs="?", help="a .facesmith project folder (default: the demo project)")
    parser.add_argument("--self-test", action="store_true",
                        help="open the project, run one job through the engine, report and exit (app/self_test.py)")
    args = parser.parse_args(argv)

    from app.preflight import check_display

    problem = check_display()
    if problem:
        print(f"facesmith: cannot open the editor: {problem}", file=sys.stderr)
        return 1

    from PySide6.QtWidgets import QApplication, QMessageBox

    from app.document import ProjectDocument
    from app.main_window import MainWindow, remember_project
    from app.theme import apply_dark_theme
    from engine.errors import FacesmithError

    QApplication.setOrganizationName("Facesmith")
    QApplication.setApplicationName("Facesmith")
    app = QApplication(sys.argv[:1])
    apply_dark_theme(app)
    try:
        if args.project:
            path = args.project
        else:
            from engine.project.demo import ensure_demo

            path = ensure_demo()
        document = ProjectDocument.open(path)
    except FacesmithError as exc:
        QMessageBox.critical(None, "Facesmith", str(exc))
        print(f"facesmith: error: {exc}", file=sys.stderr)
        return 1
    remember_project(document.root)
    window = MainWindow(document)
    window.show()
    if args.self_test:
        from app.self_test import run_self_test

        return run_self_test(app, window)
    from app.presenters.empty_states import offer_demo_extraction

    offer_demo_extraction(window)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
