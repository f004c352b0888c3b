"""`python -m crm_messaging migrate|serve`."""

from pathlib import Path

from crm_kit.runtime import service_main
from crm_messaging.bootstrap import build
from crm_messaging.settings import MessagingSettings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

if __name__ == "__main__":
    service_main("messaging", MessagingSettings, migrations_dir=MIGRATIONS_DIR, build=build)
