"""The JSON report (shape documented in checker/schemas/report.schema.json)."""
from __future__ import annotations

import json
from dataclasses import dataclass

from ..model import Report


@dataclass
class JsonFormat:
    name = "json"
    extension = ".json"
    color: bool = False

    def render(self, report: Report) -> str:
        return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"
