"""`python -m crm_privacy migrate|serve`."""

from pathlib import Path

from crm_kit.runtime import service_main
from crm_privacy.bootstrap import build
from crm_privacy.settings import PrivacySettings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

if __name__ == "__main__":
    service_main("privacy", PrivacySettings, migrations_dir=MIGRATIONS_DIR, build=build)
