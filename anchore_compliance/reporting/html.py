"""pytest-html columns: the requirement, the scenario and the HTTP stacks each check judged."""

from __future__ import annotations

import html

import pytest


def _property(report: pytest.TestReport, key: str) -> str:
    for name, value in getattr(report, "user_properties", []):
        if name == key:
            return str(value)
    return ""


def pytest_html_results_table_header(cells: list[str]) -> None:
    cells.insert(1, '<th class="sortable" data-column-type="requirement">Requirement</th>')
    cells.insert(2, '<th class="sortable" data-column-type="scenario">Scenario</th>')
    cells.insert(3, "<th>Stacks</th>")


def pytest_html_results_table_row(report: pytest.TestReport, cells: list[str]) -> None:
    cells.insert(1, f'<td class="col-requirement">{html.escape(_property(report, "requirement"))}</td>')
    cells.insert(2, f'<td class="col-scenario">{html.escape(_property(report, "scenario"))}</td>')
    cells.insert(3, f"<td>{html.escape(_property(report, 'stacks'))}</td>")


def pytest_html_report_title(report) -> None:
    report.title = "Anchore Engine network compliance"
