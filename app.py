#!/usr/bin/env python3
"""Spinboard CDK entry point: `python app.py` (or `cdk synth`) synthesizes offline into cdk.out."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path[:0] = [str(ROOT / "cdk"), str(ROOT / "functions")]

from spinboard_cdk.app import build_app  # noqa: E402
from spinboard_cdk.settings import SettingsError  # noqa: E402

if __name__ == "__main__":
    try:
        app = build_app(outdir=os.environ.get("CDK_OUTDIR", str(ROOT / "cdk.out")))
    except SettingsError as error:
        sys.exit(f"spinboard: invalid settings: {error}")
    app.synth()
