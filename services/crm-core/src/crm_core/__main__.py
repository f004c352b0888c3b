"""`python -m crm_core migrate|serve`."""

from pathlib import Path

from crm_core.bootstrap import build
from crm_core.settings import CrmCoreSettings
from crm_kit.runtime import service_main

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

if __name__ == "__main__":
    service_main("crm_core", CrmCoreSettings, migrations_dir=MIGRATIONS_DIR, build=build)
