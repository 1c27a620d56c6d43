"""The Lambda size gate (infra/size_gate.py): a function's size is its code plus every layer it has, Globals' and
its own (SAM adds list items), against the 250 MB unzipped limit."""

from __future__ import annotations

from pathlib import Path

from infra.size_gate import main, sizes

BUILT = """
Globals:
  Function:
    Layers:
      - !Ref Deps
Resources:
  Deps:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: Deps}
  Math:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: Math}
  Plain:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: Plain}
  Heavy:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: Heavy, Layers: [!Ref Math]}
"""


def _build(tmp_path: Path, mb: dict[str, float]) -> Path:
    (tmp_path / "template.yaml").write_text(BUILT)
    for folder, size in mb.items():
        (tmp_path / folder / "python").mkdir(parents=True)
        (tmp_path / folder / "python" / "blob").write_bytes(b"\0" * int(size * 1e6))
    return tmp_path


def test_each_function_counts_its_code_and_all_its_layers(tmp_path: Path) -> None:
    build = _build(tmp_path, {"Deps": 2.0, "Math": 3.0, "Plain": 0.5, "Heavy": 1.0})
    assert [(lid, round(code, 1), round(layers, 1)) for lid, code, layers in sizes(build)] == [
        ("Heavy", 1.0, 5.0),
        ("Plain", 0.5, 2.0),
    ]


def test_the_gate_fails_over_the_limit_and_writes_the_summary(tmp_path: Path) -> None:
    build = _build(tmp_path, {"Deps": 2.0, "Math": 3.0, "Plain": 0.5, "Heavy": 1.0})
    summary = tmp_path / "summary.md"
    assert main(["--build-dir", str(build), "--limit-mb", "6", "--summary", str(summary)]) == 0
    assert main(["--build-dir", str(build), "--limit-mb", "5.5"]) == 1  # Heavy: 6 MB
    assert "| Heavy | 1.0 | 5.0 | 6.0 | 0.0 |" in summary.read_text()
    assert main(["--build-dir", str(tmp_path / "none")]) == 2
