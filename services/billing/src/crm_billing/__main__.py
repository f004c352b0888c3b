"""`python -m crm_billing migrate|serve`."""

from pathlib import Path

from crm_billing.bootstrap import build
from crm_billing.settings import BillingSettings
from crm_kit.runtime import service_main

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

if __name__ == "__main__":
    service_main("billing", BillingSettings, migrations_dir=MIGRATIONS_DIR, build=build)
